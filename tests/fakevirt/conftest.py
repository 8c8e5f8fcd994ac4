"""Fixtures for fakevirt's unit tests: a fresh default world per test, two QEMU-like hosts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import fakevirt

DISK = "/var/lib/nova/instances/vm1/disk"


class SteppedClock:
    """A virtual clock whose sleep() blocks the calling thread until the test advances it."""

    def __init__(self) -> None:
        self._now = 0.0
        self._cond = threading.Condition()
        self._deadlines: list[float] = []

    def now(self) -> float:
        """Current virtual time."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Block until virtual time reaches now + seconds."""
        with self._cond:
            deadline = self._now + seconds
            self._deadlines.append(deadline)
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._now >= deadline)
            self._deadlines.remove(deadline)
            self._cond.notify_all()

    def wait_for_sleeper(self, timeout: float = 5.0) -> None:
        """Wait (on a condition, no polling) until a thread is blocked on the clock."""
        with self._cond:
            assert self._cond.wait_for(lambda: any(d > self._now for d in self._deadlines), timeout)

    def run_until(
        self, done: threading.Event, step: float | None = 1.0, timeout: float = 5.0
    ) -> None:
        """Advance time whenever a thread blocks on the clock, until done: by ``step``, or
        (None) to the earliest deadline a thread waits for."""
        while True:
            with self._cond:
                assert self._cond.wait_for(
                    lambda: done.is_set() or any(d > self._now for d in self._deadlines), timeout
                )
                if done.is_set():
                    return
                if step is None:
                    self._now = min(d for d in self._deadlines if d > self._now)
                else:
                    self._now += step
                self._cond.notify_all()

    def poke(self) -> None:
        """Wake waiters (a thread that finished calls this)."""
        with self._cond:
            self._cond.notify_all()

    def advance(self, seconds: float) -> None:
        """Move virtual time forward and wake the sleepers it passes."""
        with self._cond:
            self._now += seconds
            self._cond.notify_all()


class _SteppedSignal:
    """A wakeup on a :class:`SignalledClock`: waits like ``sleep`` unless set first."""

    def __init__(self, clock: SignalledClock) -> None:
        self._clock = clock
        self._set = False
        self._deadline: float | None = None

    def set(self) -> None:
        clock = self._clock
        with clock._cond:
            self._set = True
            self._forget_deadline()  # so the test does not move time for a woken waiter
            clock._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        clock = self._clock
        with clock._cond:
            clock.waits.append(timeout)
            if self._set:
                return True
            deadline = clock._now + (timeout if timeout is not None else float("inf"))
            self._deadline = deadline
            clock._deadlines.append(deadline)
            clock._cond.notify_all()
            clock._cond.wait_for(lambda: self._set or clock._now >= deadline)
            self._forget_deadline()
            clock._cond.notify_all()
            return self._set

    def _forget_deadline(self) -> None:
        if self._deadline is not None:
            self._clock._deadlines.remove(self._deadline)
            self._deadline = None


class SignalledClock(SteppedClock):
    """A :class:`SteppedClock` that also has ``signal()``, as the control plane's clock:
    fakevirt then waits for what it is waiting for instead of looking every step.
    ``waits`` lists the timeouts it was asked to wait for."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def signal(self) -> _SteppedSignal:
        """A new wakeup."""
        return _SteppedSignal(self)


def domain_xml(
    name: str = "vm1",
    disk: str | None = DISK,
    memory_mib: int = 512,
    extra_devices: str = "",
    uuid: str | None = None,
) -> str:
    """A small QEMU domain with one file disk."""
    disk_xml = (
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk>"
        if disk
        else ""
    )
    uuid_xml = f"<uuid>{uuid}</uuid>" if uuid else ""
    return (
        f"<domain type='qemu'><name>{name}</name>{uuid_xml}"
        f"<memory unit='MiB'>{memory_mib}</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel>"
        "<initrd>/boot/initrd</initrd><cmdline>console=ttyS0</cmdline></os>"
        f"<devices>{disk_xml}<interface type='bridge'><mac address='52:54:00:00:00:01'/>"
        "<source bridge='br0'/><model type='virtio'/></interface>"
        "<serial type='file'><source path='/tmp/console.log'/><target port='0'/></serial>"
        f"{extra_devices}</devices></domain>"
    )


@pytest.fixture
def world() -> Iterator[fakevirt.World]:
    """A fresh default world with hosts node1 and node2 (events delivered immediately)."""
    w = fakevirt.reset(immediate_events=True)
    fakevirt.registerErrorHandler(lambda ctx, err: None, None)
    for i in (1, 2):
        w.add_host(
            f"node{i}",
            vcpus=4,
            memory_mb=8192,
            disk_gb=50,
            host_uuid=f"00000000-0000-0000-0000-00000000000{i}",
        )
    yield w
    fakevirt.reset()


@pytest.fixture
def conn(world: fakevirt.World) -> fakevirt.virConnect:
    """A connection to node1."""
    return fakevirt.open("fake://node1/system")


class Events:
    """Records lifecycle events of a connection."""

    def __init__(self, conn: Any) -> None:
        self.items: list[tuple[str, int, int]] = []
        conn.domainEventRegisterAny(None, fakevirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self.cb, None)

    def cb(self, conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        """The lifecycle callback."""
        self.items.append((dom.name(), event, detail))

    def take(self) -> list[tuple[str, int, int]]:
        """Events so far, then forget them."""
        out, self.items = self.items, []
        return out


def error_of(fn: Any) -> tuple[int | None, int | None, str]:
    """(code, domain, message) of the libvirtError fn raises."""
    with pytest.raises(fakevirt.libvirtError) as info:
        fn()
    return info.value.get_error_code(), info.value.get_error_domain(), str(info.value)
