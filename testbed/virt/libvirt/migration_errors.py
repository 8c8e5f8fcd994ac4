"""Errors of the libvirt driver's migrations (Nova's names and messages)."""

from __future__ import annotations

from testbed.virt.driver import HypervisorError

__all__ = ["LiveMigrationAborted", "MigrationPreCheckFailed", "ResizeError"]


class ResizeError(HypervisorError):
    """A cold migration or resize the hypervisor cannot do (Nova's ResizeError)."""

    code = 400
    msg_fmt = "Resize error: %(reason)s"


class MigrationPreCheckFailed(HypervisorError):
    """A live migration refused before it started (Nova's MigrationPreCheckError)."""

    code = 400
    msg_fmt = "Migration pre-check error: %(reason)s"


class LiveMigrationAborted(HypervisorError):
    """The live migration was aborted (by an operator or a timeout action)."""

    code = 409
    msg_fmt = "Live migration aborted: %(reason)s"
