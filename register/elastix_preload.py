"""Loads itk-elastix's classes on import, which costs several CPU seconds (itk also imports
torch when it is installed). :func:`binn.register.baselines.register_pairs` has its FFD worker
server import this module once per process, so workers forked from it start at once.

The server and the workers it forks ignore SIGINT: Ctrl-C on a terminal reaches the whole
process group, and only the main process should answer it (exit 130, one line); the
workers then end with the pool.
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)

import itk  # noqa: E402  (after the signal: the import itself takes seconds)

itk.ElastixRegistrationMethod, itk.TransformixFilter, itk.ParameterObject  # noqa: B018
