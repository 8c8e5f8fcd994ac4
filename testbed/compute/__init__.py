"""The compute package."""
