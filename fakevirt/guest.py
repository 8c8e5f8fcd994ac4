"""Guests that take time: a clean shutdown completes ``shutdown_seconds`` after the request.

``virDomainShutdown`` only sends the ACPI power button; the guest powers off when its OS is
done (SHUTDOWN/GUEST, then STOPPED/SHUTDOWN). fakevirt records when that will be
(``DomainRecord.shutdown_due``) and completes it:

- on the clock, when the world's clock has ``call_later`` (the control plane's clock: the
  pending power-off is work in flight, so an auto-advancing clock moves to it);
- otherwise lazily: any call into the host (``virConnect.enter``) or an event-loop iteration
  completes every power-off whose time has come (with :class:`~fakevirt.clock.InstantClock`,
  ``clock.sleep``/``advance`` then any call).

A guest paused before its time powers off after it resumes; destroy, crash, migration or a
host crash cancel the pending power-off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fakevirt import actions
from fakevirt import constants as C
from fakevirt.model import Delivery, DomainRecord, Host

if TYPE_CHECKING:
    from fakevirt.world import World


def shutdown_seconds(world: World, host: Host) -> float:
    """How long the guests of host take to power off (0 on the test:///default host)."""
    if host.flavour == "test":
        return 0.0
    return world.shutdown_seconds if host.shutdown_seconds is None else host.shutdown_seconds


def request_shutdown(world: World, host: Host, rec: DomainRecord, out: list[Delivery]) -> None:
    """The guest got an ACPI power-off request. Caller holds the world lock."""
    delay = shutdown_seconds(world, host)
    if delay <= 0:
        actions.guest_shutdown(world, host, rec, out)
        return
    if rec.shutdown_due is not None:
        return  # already powering off
    rec.shutdown_due = world.clock.now() + delay
    call_later = getattr(world.clock, "call_later", None)
    timer: Any = None
    if callable(call_later):
        timer = call_later(delay, lambda: complete_due(world))
    world.shutdowns[id(rec)] = (host, rec, timer)


def cancel(world: World, rec: DomainRecord) -> None:
    """Forget rec's pending power-off (it stopped another way). Caller holds the lock."""
    rec.shutdown_due = None
    entry = world.shutdowns.pop(id(rec), None)
    if entry is not None and entry[2] is not None:
        entry[2].cancel()


def complete_due(world: World) -> None:
    """Power off every guest whose shutdown time has come; deliver the events."""
    if not world.shutdowns:
        return
    out: list[Delivery] = []
    with world.lock:
        now = world.clock.now()
        for key, (host, rec, _) in list(world.shutdowns.items()):
            due = rec.shutdown_due
            if due is None or not rec.active or host.domains.get(rec.spec.uuid) is not rec:
                world.shutdowns.pop(key, None)
                rec.shutdown_due = None
            elif due <= now and rec.state == C.VIR_DOMAIN_RUNNING and rec.job is None:
                world.shutdowns.pop(key, None)
                rec.shutdown_due = None
                actions.guest_shutdown(world, host, rec, out)
    world.deliver(out)
