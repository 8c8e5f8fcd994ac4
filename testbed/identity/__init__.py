"""The identity package."""
