"""binn: biomechanics-informed myocardial motion tracking (core utilities and the CLI)."""

__version__ = "0.1.0"
