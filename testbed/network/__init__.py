"""The network package."""
