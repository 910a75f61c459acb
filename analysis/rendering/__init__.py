"""Files for a reader: the report's figures, ``summary.md``, strain pages and the results
page."""
