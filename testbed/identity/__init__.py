"""The identity package.

Importing it installs the hook that keeps the identity revision current (see
:mod:`testbed.identity.revision`): every user of identity's tables imports this package
first, so no write to them can miss it.
"""

from testbed.identity import revision as _revision  # noqa: F401 - installs the write hook
