"""API fidelity: the same scenarios against fakevirt and libvirt's test:///default driver.

``test_scenario`` runs each scenario on each backend and checks the behaviour both must show;
``test_backends_agree`` runs it on both and compares the complete transcripts (every result
and every error's code, domain and message) and the lifecycle events. The libvirt parameter
is skipped when libvirt-python is not importable. Multi-host behaviour and migration cannot
be compared with the test driver (see docs/fakevirt.md, "Known deviations").
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import pytest

from tests.fidelity.scenarios import EVENT_SCENARIOS, SCENARIOS, EventLog, Transcript

_loop_started = threading.Event()


def _load(backend: str) -> Any:
    if backend == "libvirt":
        try:
            lv = importlib.import_module("libvirt")
        except ImportError:
            pytest.skip("libvirt-python is not importable")
        if not _loop_started.is_set():
            lv.registerErrorHandler(lambda ctx, err: None, None)
            lv.virEventRegisterDefaultImpl()
            threading.Thread(target=_loop, args=(lv,), daemon=True).start()
            _loop_started.set()
        return lv
    import fakevirt

    fakevirt.reset()
    fakevirt.registerErrorHandler(lambda ctx, err: None, None)
    return fakevirt


def _loop(lv: Any) -> None:
    while True:
        lv.virEventRunDefaultImpl()


def _drain(lv: Any) -> None:
    """Wait until real libvirt's event loop finished what it was dispatching.

    libvirt lets a deregistered callback id be deregistered again while its event state is
    dispatching (libvirt-python then raises KeyError); a zero timeout runs only after the
    dispatch in progress.
    """
    done = threading.Event()

    def fire(timer: int, opaque: Any) -> None:
        lv.virEventRemoveTimeout(timer)
        done.set()

    lv.virEventAddTimeout(0, fire, None)
    assert done.wait(10), "libvirt's event loop did not run"


def run(backend: str, name: str) -> tuple[list[tuple[str, Any]], list[tuple[str, int, int]]]:
    """Run one scenario on a fresh test:///default connection."""
    lv = _load(backend)
    pump = lv.run_pending_events if backend == "fakevirt" else (lambda: None)
    if backend == "libvirt":
        _drain(lv)
    conn = lv.open("test:///default")
    try:
        log = EventLog(lv, conn, pump)
        transcript = Transcript(lv)
        SCENARIOS[name](lv, conn, transcript)
        events = log.sync()
    finally:
        conn.close()
    return transcript.entries, events


def _get(entries: list[tuple[str, Any]], label: str) -> Any:
    return next(v for k, v in entries if k == label)


def _err(entries: list[tuple[str, Any]], label: str) -> tuple[int, int]:
    value = _get(entries, label)
    assert value[0] == "error", (label, value)
    return value[1], value[2]


BACKENDS = ["fakevirt", "libvirt"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(backend: str, name: str) -> None:
    """Behaviour both backends must show (a subset of what test_backends_agree compares)."""
    entries, events = run(backend, name)
    lv = _load(backend) if backend == "libvirt" else __import__("fakevirt")
    if name == "host_info":
        assert _get(entries, "getType") == ("ok", "TEST")
        assert _get(entries, "getLibVersion") == ("ok", 9000000)
        assert _get(entries, "listDomainsID") == ("ok", [1])
        assert _get(entries, "state") == ("ok", [lv.VIR_DOMAIN_RUNNING, 0])
    elif name == "lookup_errors":
        assert _err(entries, "lookupByName") == (lv.VIR_ERR_NO_DOMAIN, lv.VIR_FROM_TEST)
        assert _err(entries, "lookupByUUIDString bad")[0] == lv.VIR_ERR_INVALID_ARG
    elif name == "xml_errors":
        assert _err(entries, "malformed") == (lv.VIR_ERR_XML_DETAIL, lv.VIR_FROM_DOMAIN)
        assert _err(entries, "wrong root") == (lv.VIR_ERR_XML_ERROR, lv.VIR_FROM_XML)
        assert _err(entries, "no name")[0] == lv.VIR_ERR_NO_NAME
    elif name == "lifecycle":
        assert _err(entries, "destroy shutoff")[0] == lv.VIR_ERR_OPERATION_INVALID
        assert _get(entries, "state paused") == (
            "ok",
            [lv.VIR_DOMAIN_PAUSED, lv.VIR_DOMAIN_PAUSED_USER],
        )
        assert _err(entries, "state gone")[0] == lv.VIR_ERR_NO_DOMAIN
        assert ("vm1", lv.VIR_DOMAIN_EVENT_STARTED, lv.VIR_DOMAIN_EVENT_STARTED_BOOTED) in events
        assert events[0] == ("vm1", lv.VIR_DOMAIN_EVENT_DEFINED, lv.VIR_DOMAIN_EVENT_DEFINED_ADDED)
    elif name == "conflicts":
        assert _err(entries, "same name other uuid") == (
            lv.VIR_ERR_OPERATION_FAILED,
            lv.VIR_FROM_DOMAIN,
        )
        assert _err(entries, "createXML same uuid")[0] == lv.VIR_ERR_OPERATION_INVALID
    elif name == "transient":
        assert _get(entries, "isPersistent") == ("ok", 0)
        assert _err(entries, "lookup")[0] == lv.VIR_ERR_NO_DOMAIN
    elif name == "managed_save":
        assert _get(entries, "state") == (
            "ok",
            [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_SAVED],
        )
        assert _err(entries, "undefine with image")[0] == lv.VIR_ERR_OPERATION_INVALID
    elif name == "metadata":
        assert _get(entries, "get element") == ("ok", '<foo a="1">bar</foo>')
        assert _err(entries, "get missing")[0] == lv.VIR_ERR_NO_DOMAIN_METADATA
    elif name == "callbacks":
        assert _err(entries, "deregister again")[0] == lv.VIR_ERR_INVALID_ARG
    if name not in EVENT_SCENARIOS:
        return


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_backends_agree(name: str) -> None:
    """Every call gives the same result or error on both backends, events included."""
    pytest.importorskip("libvirt", reason="libvirt-python is not importable")
    real_entries, real_events = run("libvirt", name)
    fake_entries, fake_events = run("fakevirt", name)
    for (label, real), (flabel, fake) in zip(real_entries, fake_entries, strict=True):
        assert (label, fake) == (flabel, real)
    assert fake_events == real_events
