"""binn's analysis stage: metrics, tables, figures and pages of tracking outputs.

Four kinds of module, each importing only the kinds listed before it (and
:mod:`binn.analysis.config`, the stage's settings and requests with their defaults):

- :mod:`binn.analysis.measures`: numbers from arrays (Dice, contour distances, det J,
  strain, slice levels, AHA segments, the metric rows of one tracked subject or pair);
- :mod:`binn.analysis.tables`: tables from those numbers (aggregation over subjects,
  regularity curves, the selection rule, CSV/Markdown, the report's side inputs);
- :mod:`binn.analysis.rendering`: files for a reader (figures, strain pages, the report and
  ``summary.md``, the results page);
- :mod:`binn.analysis.commands`: what one ``binn`` command does, as typed functions
  (``binn evaluate``, ``strain``, ``evaluate-pair`` and the benchmarks).

:mod:`binn.analysis.cli` (with :mod:`~binn.analysis.strain_cli` and
:mod:`~binn.analysis.bench_cli`) is the stage's command line: the only modules that see
parsed arguments.
"""
