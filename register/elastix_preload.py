"""Loads itk-elastix's classes on import, which costs several CPU seconds (itk also imports
torch when it is installed). :func:`register.baselines.register_pairs` has its FFD worker
server import this module once per process, so workers forked from it start at once.
"""

import itk

itk.ElastixRegistrationMethod, itk.TransformixFilter, itk.ParameterObject  # noqa: B018
