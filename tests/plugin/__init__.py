"""The pytest plugin, used the way another project uses it."""
