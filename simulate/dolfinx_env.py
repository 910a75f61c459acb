"""Import order for dolfinx: the PyPI wheel (`dolfinx-solver-real`) must be bootstrapped first.

Importing this module before ``dolfinx`` works for both install routes: the wheel's
``dolfinx_solver`` orders MPI ahead of the compiled bindings; conda-forge's dolfinx has no
such package and needs nothing.
"""

import contextlib

with contextlib.suppress(ImportError):
    import dolfinx_solver  # noqa: F401
