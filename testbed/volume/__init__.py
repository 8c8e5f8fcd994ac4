"""The volume package."""
