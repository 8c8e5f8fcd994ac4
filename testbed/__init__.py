"""nova-testbed: an emulated OpenStack-Nova-style compute cloud and its conformance suite.

Import-light on purpose: the pytest plugin imports this package in every project that
installs it, so nothing heavy is imported here.
"""

__version__ = "0.1.0"
