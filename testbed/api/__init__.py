"""The api package."""
