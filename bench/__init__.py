"""Benchmarks, run as scripts: ``python bench/<name>.py`` (or ``make bench NAME=<name>``)."""
