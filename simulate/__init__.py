"""binn stage: simulate."""
