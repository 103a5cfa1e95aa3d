"""Performance benchmark of partner-sync (issue #10): ``python benchmarks/run.py``."""
