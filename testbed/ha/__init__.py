"""Automatic recovery of failed compute hosts (a Masakari-like engine).  See docs/ha.md."""
