"""Sequence diagrams of a test's request flow, drawn from its trace as compact inline SVG.

Lifelines appear in a fixed order (client, identity, api, conductor, scheduler, compute hosts,
image, network, volume, hypervisors, control, then anything else by name), only those used.
HTTP requests and RPC calls are solid arrows with a filled head, casts and fanouts solid
arrows with an open head, replies dashed; driver calls are arrows from a compute host to
its hypervisor; DB writes and faults are notes on the lifeline of the service that caused
them. Styling lives in the report's CSS (classes below), so each element stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from testbed.report.model import TraceEvent
from testbed.report.svgutil import CHAR_W, esc, fit, offset_format

#: Most messages drawn per diagram; longer traces keep their head and tail.
MAX_MESSAGES = 120
_TAIL = 30

_FIXED_ORDER = ("client", "identity", "api", "conductor", "scheduler")
_AFTER_COMPUTE = ("image", "network", "volume")

COL_MAX = 150
COL_MIN = 88
#: Width the diagram aims to fill before columns shrink to COL_MIN.
TARGET_W = 1180
GUTTER = 56
HEAD_Y = 6
HEAD_H = 34
ROW_H = 21
TOP = HEAD_Y + HEAD_H + 16

_ARROW_KINDS = {
    "http": "h",
    "rpc.call": "c",
    "rpc.cast": "a",
    "rpc.fanout": "f",
    "rpc.reply": "r",
    "driver": "d",
}
_NOTE_KINDS = {"db": "n", "fault": "x"}


def lifeline_sort_key(name: str) -> tuple[int, str]:
    """Sort key giving the fixed lifeline order; hosts sort by name within their group."""
    if name in _FIXED_ORDER:
        return (_FIXED_ORDER.index(name), "")
    if name.startswith("compute:") or name == "compute":
        return (10, name)
    if name in _AFTER_COMPUTE:
        return (20 + _AFTER_COMPUTE.index(name), "")
    if name.startswith("hypervisor:") or name == "hypervisor":
        return (30, name)
    if name == "control":
        return (40, "")
    return (50, name)


@dataclass(frozen=True)
class Message:
    """One row of a sequence diagram."""

    style: str  # h c a f r d (arrows), n x (notes), gap
    source: str
    target: str | None
    label: str
    t: float
    error: bool = False


def _label(event: TraceEvent) -> tuple[str, bool]:
    if event.kind == "http":
        status = event.detail.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            return f"{event.name} \u2192 {status}", status >= 400
        return event.name, False
    if event.kind == "rpc.reply":
        error = event.detail.get("error") or event.detail.get("exception")
        if error:
            return f"{event.name} \u2717 {error}", True
        return event.name, False
    return event.name, event.kind == "fault"


def to_message(event: TraceEvent) -> Message | None:
    """The diagram row for ``event``, or ``None`` for events not drawn (state, log)."""
    label, error = _label(event)
    style = _ARROW_KINDS.get(event.kind)
    if style is not None:
        if event.target is None or event.target == event.source:
            return Message("n", event.source, None, label, event.t, error)
        return Message(style, event.source, event.target, label, event.t, error)
    note = _NOTE_KINDS.get(event.kind)
    if note is not None:
        return Message(note, event.source, None, label, event.t, error)
    return None


def messages(trace: Sequence[TraceEvent], limit: int = MAX_MESSAGES) -> list[Message]:
    """Diagram rows for ``trace`` in order, with a ``gap`` row if more than ``limit``."""
    rows = [m for m in (to_message(e) for e in trace) if m is not None]
    if len(rows) <= limit:
        return rows
    tail = min(_TAIL, limit // 4)
    head = limit - tail
    omitted = len(rows) - head - tail
    gap = Message("gap", "", None, f"\u22ef {omitted} more events \u22ef", rows[head].t)
    return [*rows[:head], gap, *rows[len(rows) - tail :]]


def lifelines(rows: Sequence[Message]) -> list[str]:
    """The lifelines used by ``rows``, in diagram order."""
    names = {m.source for m in rows if m.style != "gap"}
    names |= {m.target for m in rows if m.target is not None}
    return sorted(names, key=lifeline_sort_key)


def column_width(n_lifelines: int) -> int:
    """Width of one lifeline column: wide when few, down to COL_MIN when many."""
    room = (TARGET_W - GUTTER) // max(n_lifelines, 1)
    return max(COL_MIN, min(COL_MAX, room))


def _head(name: str, x: int, col: int) -> str:
    kind, _, host = name.partition(":")
    box = (
        f'<rect class="lh" x="{x - col // 2 + 6}" y="{HEAD_Y}" width="{col - 12}" '
        f'height="{HEAD_H}" rx="5"/>'
    )
    if host:
        top, _ = fit(kind, col - 20)
        sub, _ = fit(host, col - 20)
        text = (
            f'<text class="lt" x="{x}" y="{HEAD_Y + 15}">{esc(top)}</text>'
            f'<text class="ls" x="{x}" y="{HEAD_Y + 28}">{esc(sub)}</text>'
        )
    else:
        label, _ = fit(name, col - 20)
        text = f'<text class="lt" x="{x}" y="{HEAD_Y + 21}">{esc(label)}</text>'
    return box + text


def render_sequence_svg(trace: Sequence[TraceEvent], limit: int = MAX_MESSAGES) -> str:
    """Inline SVG of the request flow in ``trace``; empty string when nothing is drawable."""
    rows = messages(trace, limit)
    if not rows:
        return ""
    names = lifelines(rows)
    col = column_width(len(names))
    xs = {name: GUTTER + col // 2 + i * col for i, name in enumerate(names)}
    width = GUTTER + col * len(names) + 24
    height = TOP + ROW_H * len(rows) + 10
    t0 = min(e.t for e in trace)
    tfmt = offset_format(max(e.t for e in trace) - t0)
    out = [
        f'<svg class="sq" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="sequence diagram, {len(rows)} messages">',
    ]
    bottom = height - 6
    out.append('<g class="ll">')
    out.extend(f'<path d="M{x} {HEAD_Y + HEAD_H}V{bottom}"/>' for x in xs.values())
    out.append("</g>")
    out.extend(_head(name, xs[name], col) for name in names)
    gutter = [f'<g class="tg"><text x="4" y="{HEAD_Y + 21}">t (s)</text>']
    last_t: float | None = None
    for i, msg in enumerate(rows):
        y = TOP + ROW_H * i + 12
        if msg.style != "gap" and msg.t != last_t:
            gutter.append(f'<text x="4" y="{y + 1}">{tfmt.format(msg.t - t0)}</text>')
            last_t = msg.t
        out.append(_row(msg, y, xs, width, col))
    out.extend(gutter)
    out.append("</g></svg>")
    return "".join(out)


def _row(msg: Message, y: int, xs: dict[str, int], width: int, col: int) -> str:
    if msg.style == "gap":
        return (
            f'<rect class="gp" x="{GUTTER}" y="{y - 11}" width="{width - GUTTER - 10}" '
            f'height="17"/><text class="gt" x="{(width + GUTTER) // 2}" y="{y + 1}">'
            f"{esc(msg.label)}</text>"
        )
    x1 = xs[msg.source]
    err = " e" if msg.error else ""
    if msg.target is None:
        text, cut = fit(msg.label, col * 1.6)
        w = int(len(text) * CHAR_W) + 12
        tip = f"<title>{esc(msg.label)}</title>" if cut else ""
        return (
            f'<g class="{msg.style}{err}"><rect x="{x1 + 5}" y="{y - 9}" width="{w}" '
            f'height="15" rx="3"/><text x="{x1 + 11}" y="{y + 2}">{esc(text)}</text>'
            f"{tip}</g>"
        )
    x2 = xs[msg.target]
    text, cut = fit(msg.label, max(abs(x2 - x1) - 10, min(col * 2.2, 260)))
    half = len(text) * CHAR_W / 2 + 2
    mid = int(min(max((x1 + x2) / 2, GUTTER + half), width - half))
    tip = f"<title>{esc(msg.label)}</title>" if cut else ""
    end = x2 - 1 if x2 > x1 else x2 + 1
    cls = ' class="e"' if msg.error else ""
    return (
        f'<path class="{msg.style}" d="M{x1} {y + 5}H{end}"/>'
        f'<text{cls} x="{mid}" y="{y - 1}">{esc(text)}{tip}</text>'
    )
