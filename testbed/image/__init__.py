"""The image package."""
