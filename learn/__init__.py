"""binn stage: learn."""
