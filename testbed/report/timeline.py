"""State timelines: per instance, three swim lanes (vm_state, task_state, power_state).

Built from the trace's ``state`` events (detail ``vm_state``, ``task_state``, ``power_state``)
over the simulated clock ``t``. Each lane is a row of coloured segments; a value holds from
the event that set it until the next change, the last until the end of the trace.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from testbed.report.model import TraceEvent
from testbed.report.svgutil import esc, fit, fmt_seconds, nice_step, text_width, tick_label
from testbed.report.theme import FALLBACK_FILLS, STATE_FILLS

LANES = ("vm_state", "task_state", "power_state")
#: Nova's power_state values (nova/compute/power_state.py).
POWER_STATES = {
    0: "NOSTATE",
    1: "RUNNING",
    3: "PAUSED",
    4: "SHUTDOWN",
    6: "CRASHED",
    7: "SUSPENDED",
}
NONE_LABEL = "none"

LABEL_W = 96
PLOT_W = 860
LANE_H = 20
LANE_GAP = 4
AXIS_H = 24
MIN_SEG_W = 3
END_PAD = 0.04


@dataclass(frozen=True)
class Segment:
    """A value held by one lane from ``start`` to ``end`` (simulated seconds)."""

    lane: str
    value: str
    start: float
    end: float


def _value(lane: str, raw: Any) -> str:
    if raw is None:
        return NONE_LABEL
    if lane == "power_state" and isinstance(raw, int) and not isinstance(raw, bool):
        return POWER_STATES.get(raw, str(raw))
    return str(raw)


def instances(trace: Sequence[TraceEvent]) -> list[str]:
    """Instance uuids with state events, in order of first appearance."""
    seen: dict[str, None] = {}
    for event in trace:
        if event.kind == "state" and event.instance_uuid:
            seen.setdefault(event.instance_uuid, None)
    return list(seen)


def time_range(trace: Sequence[TraceEvent]) -> tuple[float, float]:
    """(start, end) simulated time drawn for ``trace``: first event to a little after the last.

    A zero span is widened to one second.
    """
    if not trace:
        return (0.0, 1.0)
    t0 = min(e.t for e in trace)
    t1 = max(e.t for e in trace)
    if t1 <= t0:
        return (t0, t0 + 1.0)
    # A little room after the last event, so that the final states stay visible.
    return (t0, t1 + (t1 - t0) * END_PAD)


def segments(trace: Sequence[TraceEvent], instance_uuid: str) -> list[Segment]:
    """The lane segments of one instance, lane by lane, each lane in time order."""
    _, end = time_range(trace)
    changes = sorted(
        (e for e in trace if e.kind == "state" and e.instance_uuid == instance_uuid),
        key=lambda e: (e.t, e.seq),
    )
    out: list[Segment] = []
    for lane in LANES:
        points: list[tuple[float, str]] = []
        for event in changes:
            if lane not in event.detail:
                continue
            value = _value(lane, event.detail[lane])
            if points and points[-1][1] == value:
                continue
            points.append((event.t, value))
        for i, (start, value) in enumerate(points):
            stop = points[i + 1][0] if i + 1 < len(points) else max(end, start)
            out.append(Segment(lane, value, start, stop))
    return out


def fill_for(lane: str, value: str) -> str:
    """The colour of ``value`` in ``lane`` (fixed for known states, stable hash otherwise)."""
    known = STATE_FILLS.get(lane, {}).get(value)
    if known is not None:
        return known
    return FALLBACK_FILLS[zlib.crc32(f"{lane}:{value}".encode()) % len(FALLBACK_FILLS)]


def render_timeline_svg(trace: Sequence[TraceEvent], instance_uuid: str) -> str:
    """Inline SVG of one instance's three state lanes over simulated time."""
    segs = segments(trace, instance_uuid)
    t0, t1 = time_range(trace)
    scale = PLOT_W / (t1 - t0)
    width = LABEL_W + PLOT_W + 24
    lanes_h = len(LANES) * (LANE_H + LANE_GAP)
    height = lanes_h + AXIS_H
    out = [
        f'<svg class="tl" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="state timeline of instance {esc(instance_uuid)}">'
    ]
    for i, lane in enumerate(LANES):
        y = i * (LANE_H + LANE_GAP)
        out.append(
            f'<text class="ln" x="{LABEL_W - 8}" y="{y + 14}">{lane}</text>'
            f'<rect class="lb" x="{LABEL_W}" y="{y}" width="{PLOT_W}" height="{LANE_H}"/>'
        )
    for seg in segs:
        if seg.lane == "task_state" and seg.value == NONE_LABEL:
            continue
        y = LANES.index(seg.lane) * (LANE_H + LANE_GAP)
        x = LABEL_W + (seg.start - t0) * scale
        w = max((seg.end - seg.start) * scale, MIN_SEG_W)
        x = min(x, LABEL_W + PLOT_W - w)
        when = f"{fmt_seconds(seg.start - t0)} \u2013 {fmt_seconds(seg.end - t0)}"
        out.append(
            f'<g><rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{LANE_H}" '
            f'fill="{fill_for(seg.lane, seg.value)}"/>'
            f"<title>{seg.lane} {esc(seg.value)}: {when}</title>"
        )
        if w >= text_width(seg.value) + 10:
            out.append(f'<text class="sv" x="{x + 5:.1f}" y="{y + 14}">{esc(seg.value)}</text>')
        elif w >= 30:
            short, _ = fit(seg.value, w - 8)
            out.append(f'<text class="sv" x="{x + 4:.1f}" y="{y + 14}">{esc(short)}</text>')
        out.append("</g>")
    out.append(_axis(t0, t1, scale, lanes_h))
    out.append("</svg>")
    return "".join(out)


def _axis(t0: float, t1: float, scale: float, y: int) -> str:
    span = t1 - t0
    step = nice_step(span, 8)
    parts = [f'<g class="ax"><path d="M{LABEL_W} {y}H{LABEL_W + PLOT_W}"/>']
    n = 0
    while n * step <= span * 1.0001:
        x = LABEL_W + n * step * scale
        parts.append(
            f'<path d="M{x:.1f} {y}v4"/><text x="{x:.1f}" y="{y + 15}">'
            f"{tick_label(n * step, step)}</text>"
        )
        n += 1
    parts.append(f'<text class="au" x="{LABEL_W + PLOT_W + 20}" y="{y + 15}">s</text></g>')
    return "".join(parts)


def legend(trace: Sequence[TraceEvent], instance_uuid: str) -> list[tuple[str, str, str]]:
    """(lane, value, colour) of every value shown for the instance, lane by lane."""
    seen: dict[tuple[str, str], str] = {}
    for seg in segments(trace, instance_uuid):
        if seg.lane == "task_state" and seg.value == NONE_LABEL:
            continue
        seen.setdefault((seg.lane, seg.value), fill_for(seg.lane, seg.value))
    return [(lane, value, colour) for (lane, value), colour in seen.items()]
