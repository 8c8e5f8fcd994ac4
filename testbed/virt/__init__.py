"""The virt package."""
