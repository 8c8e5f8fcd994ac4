"""Run-time fault injection: one :class:`Fault` type, many kinds, all plain-dict serialisable.

Inject with ``fakevirt.world().inject(Fault(kind=..., ...))`` (or a dict); the returned
:class:`FaultHandle` clears it. ``KINDS`` lists the supported kinds with their parameters, so
a JSON control API can expose them. One-shot kinds act when injected; the others stay active
until cleared (or until they fired ``count`` times).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakevirt.world import World

KINDS: dict[str, str] = {
    "host_crash": "one-shot: the host dies (params: host). Its running domains are gone "
    "(persistent ones later show shut off, reason crashed); open connections "
    "are closed (close callbacks, reason EOF); opening it fails.",
    "host_recover": "one-shot: a crashed or hung host is back (params: host).",
    "host_hang": "active: the host stops answering (params: host, seconds). Calls block; "
    "with setKeepAlive(interval, count) they fail after interval*(count+1) "
    "clock seconds and the connection closes (reason KEEPALIVE); else they "
    "block until the host recovers or, with seconds > 0, fail after that long.",
    "guest_shutdown": "one-shot: the guest powers itself off (params: host, domain).",
    "guest_crash": "one-shot: the guest panics (params: host, domain); on_crash applies.",
    "domain_state": "one-shot: the domain's state changes behind the caller's back "
    "(params: host, domain, state = paused | running | destroyed).",
    "ignore_shutdown": "active: the guest ignores ACPI shutdown requests (host, domain).",
    "migration_failure": "active: migrations fail at a phase (params: host = source, domain, "
    "phase = before_start | memory_copy | switchover, count).",
    "lost_events": "active: lifecycle events are dropped (params: host, domain, event = "
    "name such as STOPPED, count).",
    "delayed_events": "active: lifecycle events are delivered ``seconds`` clock seconds late "
    "(params: host, domain, event, seconds, count).",
    "slow_operation": "active: an API call takes ``seconds`` clock seconds (params: host, "
    "domain, op = method name such as create or migrateToURI3, count).",
    "operation_failure": "active: an API call fails as libvirt reports it (params: host, "
    "domain, op = method such as createWithFlags, C name such as virDomainShutdown or family "
    "such as create; code, error_domain = VIR_ERR_*/VIR_FROM_* name or number and message "
    "(the detail after libvirt's prefix), defaulting to what the QEMU driver reports for "
    "that call; count).",
}
ONE_SHOT = {"host_crash", "host_recover", "guest_shutdown", "guest_crash", "domain_state"}
PHASES = ("before_start", "memory_copy", "switchover")
STATES = ("paused", "running", "destroyed")


@dataclass
class Fault:
    """A fault to inject. ``kind`` is one of :data:`KINDS`; unused parameters stay None."""

    kind: str
    host: str | None = None
    domain: str | None = None
    op: str | None = None
    phase: str | None = None
    state: str | None = None
    event: str | None = None
    seconds: float = 0.0
    count: int | None = None
    code: int | str | None = None
    error_domain: int | str | None = None
    message: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; supported: {sorted(KINDS)}")
        if self.kind == "migration_failure" and self.phase not in PHASES:
            raise ValueError(f"migration_failure needs phase in {PHASES}")
        if self.kind == "domain_state" and self.state not in STATES:
            raise ValueError(f"domain_state needs state in {STATES}")
        if self.kind in ("host_crash", "host_recover", "host_hang") and not self.host:
            raise ValueError(f"{self.kind} needs a host")
        if self.kind in ("guest_shutdown", "guest_crash", "domain_state") and not (
            self.host and self.domain
        ):
            raise ValueError(f"{self.kind} needs a host and a domain")
        if self.kind == "operation_failure":
            from fakevirt.opfail import validate

            validate(self)
        elif self.code is not None or self.error_domain is not None or self.message is not None:
            raise ValueError("code, error_domain and message belong to operation_failure")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (None values left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build a Fault from a dict such as :meth:`to_dict` returns; unknown keys fail.

        ``operation`` is accepted as another name for ``op``.
        """
        if "operation" in data:
            data = dict(data)
            if data.setdefault("op", data["operation"]) != data.pop("operation"):
                raise ValueError("op and operation disagree")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault parameters {sorted(unknown)}")
        return cls(**data)

    def matches(
        self,
        kind: str,
        host: str | None,
        domain: str | None = None,
        op: str | None = None,
        event: str | None = None,
        phase: str | None = None,
    ) -> bool:
        """True when this fault applies to that kind, host, domain, op, event and phase."""
        return (
            self.kind == kind
            and (self.host is None or self.host == host)
            and (self.phase is None or phase is None or self.phase == phase)
            and (self.domain is None or domain is None or self.domain == domain)
            and (self.op is None or self.op == op)
            and (self.event is None or event is None or self.event == event)
        )


class FaultHandle:
    """What ``World.inject`` returns: the fault and a way to clear it."""

    def __init__(self, world: World, fault: Fault) -> None:
        self.world = world
        self.fault = fault

    @property
    def id(self) -> int | None:
        """The id the world gave the fault."""
        return self.fault.id

    def clear(self) -> bool:
        """Remove the fault; True when it was still active."""
        return self.world.clear_fault(self.fault.id)

    def to_dict(self) -> dict[str, Any]:
        """The fault as a dict (with its id)."""
        return self.fault.to_dict()


def supported_kinds() -> dict[str, str]:
    """The fault kinds fakevirt supports, with a description of their parameters."""
    return dict(KINDS)
