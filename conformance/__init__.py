"""The conformance suite: how an OpenStack-Nova-style cloud must behave.

Tests are grouped by capability (``@pytest.mark.testbed_capability``), each with a stable
id (``@pytest.mark.testbed_id``).  They use the public APIs through openstacksdk, plus the
test-bed control API for time, faults and periodic tasks, so the same tests run against
any cloud; those needing the control API are skipped where there is none.  Run them with
``testbed conformance``.
"""
