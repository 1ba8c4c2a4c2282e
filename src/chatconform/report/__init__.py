"""Reports: the run record (reports/<run>/run.json), Allure extras, comparisons and diffs of runs.

The run record is the single source of truth; every other output (JUnit XML, the comparison HTML
and Markdown, the diff) is rendered from one or more run records.
"""
