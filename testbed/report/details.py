"""HTML for one test: its summary row and the expandable per-backend details."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from testbed.report.model import TestResult, TraceEvent
from testbed.report.sequence import render_sequence_svg
from testbed.report.summary import TestRow
from testbed.report.svgutil import esc, fmt_seconds, offset_format
from testbed.report.timeline import instances, legend, render_timeline_svg

#: Most rows shown in the trace table of a failed test.
MAX_TABLE_ROWS = 400
#: Most instances drawn as timelines per test and backend.
MAX_TIMELINES = 8

DASH = "\u2014"
BADGE_TEXT = {"passed": "pass", "failed": "fail", "skipped": "skip", "error": "error"}


def badge(outcome: str) -> str:
    """A small coloured outcome label."""
    return f'<span class="badge {outcome}">{BADGE_TEXT.get(outcome, esc(outcome))}</span>'


def element_id(key: str, taken: set[str]) -> str:
    """A deterministic, unique HTML id for a test key."""
    base = "t-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")[:80] or "x")
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def render_test(row: TestRow, labels: Sequence[str], html_id: str) -> str:
    """The ``<details>`` element of one test across all runs."""
    outcomes = row.outcomes
    attrs = [f'id="{html_id}"', 'class="test"']
    if outcomes & {"failed", "error"}:
        attrs.append('data-bad=""')
    if "skipped" in outcomes:
        attrs.append('data-skip=""')
    if row.differs:
        attrs.append('data-differs=""')
    search = " ".join([row.name, row.nodeid, row.test_id]).lower()
    attrs.append(f'data-s="{esc(search)}"')
    cells = []
    for result in row.per_run:
        if result is None:
            cells.append('<span class="cell"><span class="none">\u2014</span></span>')
        else:
            cells.append(
                f'<span class="cell">{badge(result.outcome)}'
                f'<span class="dur">{fmt_seconds(result.duration)}</span></span>'
            )
    flag = '<span class="flag">differs between backends</span>' if row.differs else ""
    short_id = row.test_id[:8] if row.test_id else ""
    summary = (
        f'<summary><span class="tn"><span class="name">{esc(row.name)}</span>{flag}'
        f'<span class="nid">{esc(row.nodeid)}</span></span>'
        f'<code class="tid" title="{esc(row.test_id)}">{esc(short_id)}</code>'
        f"{''.join(cells)}</summary>"
    )
    drawn: dict[str, str] = {}
    bodies = [
        _run_body(label, result, drawn)
        for label, result in zip(labels, row.per_run, strict=True)
        if result is not None
    ]
    return (
        f'<details {" ".join(attrs)}>{summary}<div class="body">{"".join(bodies)}</div></details>'
    )


def _once(html: str, label: str, drawn: dict[str, str], what: str) -> str:
    """``html``, or a pointer to the run where the identical drawing already appears."""
    first = drawn.setdefault(html, label)
    if first == label:
        return html
    return f'<p class="same">Same {what} as on {esc(first)}.</p>'


def _run_body(label: str, result: TestResult, drawn: dict[str, str]) -> str:
    parts = [
        f'<section class="run {result.outcome}"><h3>{esc(label)} {badge(result.outcome)}'
        f'<span class="dur">{fmt_seconds(result.duration)}</span>'
        f'<span class="tidfull">test id {esc(result.test_id or DASH)}</span></h3>'
    ]
    if result.message and result.outcome != "passed":
        parts.append(f'<p class="msg">{esc(result.message)}</p>')
    trace = result.trace
    if trace:
        diagram = render_sequence_svg(trace)
        if diagram:
            parts.append(
                f"<h4>Request flow <small>{_trace_note(trace)}</small></h4>"
                + _once(f'<div class="scroll">{diagram}</div>', label, drawn, "request flow")
            )
        touched = instances(trace)
        if touched:
            parts.append(
                "<h4>State timeline <small>simulated seconds since the first event</small></h4>"
            )
            for uuid in touched[:MAX_TIMELINES]:
                what = f"timeline of {uuid[:8]}"
                parts.append(_once(_timeline_block(trace, uuid), label, drawn, what))
            if len(touched) > MAX_TIMELINES:
                parts.append(
                    f'<p class="more">{len(touched) - MAX_TIMELINES} more instances not drawn</p>'
                )
    else:
        parts.append('<p class="more">No trace recorded.</p>')
    if result.outcome in ("failed", "error"):
        if result.longrepr:
            parts.append(f'<h4>Failure</h4><pre class="lr">{esc(result.longrepr)}</pre>')
        if trace:
            parts.append(
                f"<h4>Trace <small>{len(trace)} events</small></h4>{render_trace_table(trace)}"
            )
    parts.append("</section>")
    return "".join(parts)


def _trace_note(trace: Sequence[TraceEvent]) -> str:
    requests = len({e.request_id for e in trace if e.request_id})
    events = "1 event" if len(trace) == 1 else f"{len(trace)} events"
    reqs = "1 request" if requests == 1 else f"{requests} requests"
    return f"{events}, {reqs}"


def _timeline_block(trace: Sequence[TraceEvent], uuid: str) -> str:
    chips = "".join(
        f'<span class="chip"><i style="background:{colour}"></i>{esc(value)}</span>'
        for _, value, colour in legend(trace, uuid)
    )
    return (
        f'<div class="inst"><div class="ih">instance <code>{esc(uuid)}</code>'
        f'<span class="legend">{chips}</span></div>'
        f'<div class="scroll">{render_timeline_svg(trace, uuid)}</div></div>'
    )


def _detail_text(event: TraceEvent) -> str:
    if not event.detail:
        return ""
    text = json.dumps(event.detail, sort_keys=True, separators=(", ", ": "), default=str)
    return text if len(text) <= 240 else text[:239] + "\u2026"


def render_trace_table(trace: Sequence[TraceEvent], limit: int = MAX_TABLE_ROWS) -> str:
    """A compact table of trace events (the last ``limit`` if longer)."""
    t0 = min(e.t for e in trace)
    tfmt = offset_format(max(e.t for e in trace) - t0)
    shown = trace[-limit:] if len(trace) > limit else trace
    rows = []
    if len(trace) > limit:
        rows.append(
            f'<tr><td colspan="8" class="more">{len(trace) - limit} earlier events '
            "not shown</td></tr>"
        )
    for e in shown:
        route = esc(e.source) + (f" \u2192 {esc(e.target)}" if e.target else "")
        kind_class = e.kind.replace(".", "-")
        rows.append(
            f'<tr class="k-{kind_class}"><td>{e.seq}</td><td>{tfmt.format(e.t - t0)}</td>'
            f"<td>{esc(e.kind)}</td><td>{route}</td><td>{esc(e.name)}</td>"
            f"<td>{esc((e.instance_uuid or '')[:8])}</td><td>{esc(e.request_id[-12:])}</td>"
            f"<td>{esc(_detail_text(e))}</td></tr>"
        )
    head = (
        "<tr><th>seq</th><th>t (s)</th><th>kind</th><th>from \u2192 to</th><th>name</th>"
        "<th>instance</th><th>request</th><th>detail</th></tr>"
    )
    return f'<div class="scroll"><table class="trace">{head}{"".join(rows)}</table></div>'
