"""binn stage: register."""
