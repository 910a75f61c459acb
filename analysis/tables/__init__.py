"""Tables from metric rows: labels, aggregation over subjects, regularity curves, the
selection rule, the report's side inputs, and CSV/Markdown reading and writing."""
