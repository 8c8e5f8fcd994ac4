"""Imports every service's tables, so ``Base.metadata`` is complete (for create_all and
Alembic)."""

from testbed.compute import models as compute
from testbed.ha import models as ha
from testbed.identity import models as identity
from testbed.image import models as image
from testbed.network import models as network
from testbed.volume import models as volume

__all__ = ["compute", "ha", "identity", "image", "network", "volume"]
