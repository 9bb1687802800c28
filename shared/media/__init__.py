"""Media library: uploads, processing and per-platform derivatives (issue #17)."""
