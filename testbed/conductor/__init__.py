"""The conductor package."""
