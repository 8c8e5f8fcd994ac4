"""End-to-end tests: a `testbed up` process driven by unmodified OpenStack clients."""
