"""Tests of the media library (issue #17)."""
