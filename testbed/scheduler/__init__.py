"""The scheduler package."""
