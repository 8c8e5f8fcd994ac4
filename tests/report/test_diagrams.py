"""Sequence diagrams and state timelines, checked on the SVG they produce."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from testbed.report import TraceEvent, parse_results
from testbed.report.sequence import (
    MAX_MESSAGES,
    lifeline_sort_key,
    lifelines,
    messages,
    render_sequence_svg,
)
from testbed.report.timeline import (
    LANES,
    Segment,
    fill_for,
    instances,
    render_timeline_svg,
    segments,
    time_range,
)

from .sample import TraceBuilder, boot_trace, migrate_trace, stable_uuid

SVG = "{http://www.w3.org/2000/svg}"


def _trace(builder: TraceBuilder) -> tuple[TraceEvent, ...]:
    data = {
        "format": 1,
        "runs": [
            {
                "backend": "b",
                "started": "",
                "wall_time": 1,
                "workers": 1,
                "tests": [
                    {
                        "nodeid": "t.py::t",
                        "name": "t",
                        "test_id": "x",
                        "capability": "c",
                        "outcome": "passed",
                        "duration": 0,
                        "trace": builder.events,
                    }
                ],
            }
        ],
    }
    return parse_results(data).runs[0].tests[0].trace


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)


def test_lifelines_come_in_the_fixed_order_and_only_when_used() -> None:
    names = [
        "hypervisor:b",
        "control",
        "volume",
        "compute:b",
        "client",
        "api",
        "zzz",
        "compute:a",
        "image",
        "identity",
        "scheduler",
        "network",
        "conductor",
        "hypervisor:a",
    ]
    assert sorted(names, key=lifeline_sort_key) == [
        "client",
        "identity",
        "api",
        "conductor",
        "scheduler",
        "compute:a",
        "compute:b",
        "image",
        "network",
        "volume",
        "hypervisor:a",
        "hypervisor:b",
        "control",
        "zzz",
    ]
    trace = _trace(migrate_trace(stable_uuid("i"), "req-1"))
    assert lifelines(messages(trace)) == [
        "client",
        "identity",
        "api",
        "conductor",
        "scheduler",
        "compute:host1",
        "compute:host2",
        "image",
        "network",
        "hypervisor:host1",
        "hypervisor:host2",
    ]


def test_sequence_svg_draws_heads_arrows_and_notes_in_trace_order() -> None:
    trace = _trace(boot_trace(stable_uuid("i")))
    root = _svg(render_sequence_svg(trace))
    heads = [t.text for t in root.iter(f"{SVG}text") if t.get("class") in ("lt", "ls")]
    assert heads == [
        "client",
        "identity",
        "api",
        "conductor",
        "scheduler",
        "compute",
        "host1",
        "image",
        "network",
        "hypervisor",
        "host1",
    ]
    head_x = {
        name: float(r.get("x", 0))
        for name, r in zip(
            [
                "client",
                "identity",
                "api",
                "conductor",
                "scheduler",
                "compute:host1",
                "image",
                "network",
                "hypervisor:host1",
            ],
            [r for r in root.iter(f"{SVG}rect") if r.get("class") == "lh"],
            strict=True,
        )
    }
    arrows = [p for p in root.iter(f"{SVG}path") if p.get("class")]
    assert [p.get("class") for p in arrows] == [
        "h",
        "h",  # POST tokens, POST /servers
        "a",
        "c",
        "r",
        "a",  # cast build_instances, call + reply select_destinations, cast
        "h",
        "h",  # network port, image
        "d",
        "d",  # defineXML, createWithFlags (compute -> hypervisor)
        "h",
        "d",
        "h",  # poll, info, poll
    ]
    # The first request goes right from client to identity; the reply goes back left.
    first = re.findall(r"-?\d+", arrows[0].get("d", ""))
    assert int(first[0]) < int(first[2])
    assert int(first[0]) < head_x["identity"] + 200
    reply = re.findall(r"-?\d+", arrows[4].get("d", ""))
    assert int(reply[0]) > int(reply[2])
    labels = [
        t.text
        for t in root.iter(f"{SVG}text")
        if t.get("class") in (None, "e") and t.text and not re.fullmatch(r"[\d.]+|t \(s\)", t.text)
    ]
    assert labels[:4] == [
        "POST /v3/auth/tokens \u2192 201",
        "POST /servers \u2192 202",
        "INSERT instances",
        "build_instances",
    ]
    assert "UPDATE instances" in labels and "defineXML" in labels
    notes = [g.get("class") for g in root.iter(f"{SVG}g") if g.get("class") in ("n", "x")]
    assert notes == ["n", "n", "n"]  # INSERT instances, SELECT compute_nodes, UPDATE instances


def test_errors_and_faults_are_marked() -> None:
    b = boot_trace(stable_uuid("i"))
    b.add("http", "client", "api", "POST /servers", status=409)
    b.add("fault", "hypervisor:host1", None, "host crashed")
    root = _svg(render_sequence_svg(_trace(b)))
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "e"] == [
        "POST /servers \u2192 409"
    ]
    assert [g.get("class") for g in root.iter(f"{SVG}g")][-2] == "x e"


def test_long_traces_keep_head_and_tail_with_a_note() -> None:
    b = TraceBuilder("req")
    for i in range(300):
        b.add("rpc.call", "api", "conductor", f"m{i}", dt=0.1)
    rows = messages(_trace(b))
    assert len(rows) == MAX_MESSAGES + 1
    gap = [r for r in rows if r.style == "gap"]
    assert len(gap) == 1 and gap[0].label == "\u22ef 180 more events \u22ef"
    assert rows[0].label == "m0" and rows[-1].label == "m299"
    svg = render_sequence_svg(_trace(b))
    assert svg.count("<path class=") == MAX_MESSAGES and "180 more events" in svg


def test_state_and_log_events_are_not_drawn_and_empty_traces_give_nothing() -> None:
    b = TraceBuilder("req")
    b.state(stable_uuid("i"), "active", None, 1)
    b.add("log", "api", None, "hello")
    assert render_sequence_svg(_trace(b)) == ""


def test_timeline_segments_follow_state_changes() -> None:
    uuid = stable_uuid("i")
    trace = _trace(boot_trace(uuid))
    assert instances(trace) == [uuid]
    t0, t1 = time_range(trace)
    segs = segments(trace, uuid)
    vm = [s for s in segs if s.lane == "vm_state"]
    assert [s.value for s in vm] == ["building", "active"]
    first_state = next(e for e in trace if e.kind == "state")
    assert t0 == trace[0].t < first_state.t == vm[0].start  # blank until the first state
    assert vm[0].end == vm[1].start and vm[1].end == t1 > trace[-1].t
    task = [s.value for s in segs if s.lane == "task_state"]
    assert task == ["scheduling", "networking", "block_device_mapping", "spawning", "none"]
    power = [s for s in segs if s.lane == "power_state"]
    assert [s.value for s in power] == ["NOSTATE", "RUNNING"]
    assert power[1] == Segment("power_state", "RUNNING", vm[1].start, t1)


def test_timeline_svg_has_three_lanes_coloured_segments_and_an_axis() -> None:
    uuid = stable_uuid("i")
    trace = _trace(boot_trace(uuid))
    root = _svg(render_timeline_svg(trace, uuid))
    lane_names = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "ln"]
    assert lane_names == list(LANES)
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect") if r.get("fill")]
    assert fill_for("vm_state", "active") in fills and fill_for("vm_state", "building") in fills
    assert len(fills) == 2 + 4 + 2  # task_state "none" is left blank
    inside = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "sv"]
    assert "building" in inside and "spawning" in inside
    ticks = [
        t.text for g in root.iter(f"{SVG}g") if g.get("class") == "ax" for t in g.iter(f"{SVG}text")
    ]
    assert ticks[:3] == ["0", "1", "2"] and ticks[-1] == "s"
    assert fill_for("task_state", "made-up") == fill_for("task_state", "made-up")
