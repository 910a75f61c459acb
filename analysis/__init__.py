"""binn stage: analysis."""
