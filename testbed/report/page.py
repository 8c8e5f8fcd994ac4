"""The whole report page: header, capability matrix, per-capability test sections."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources

from testbed.report.details import element_id, render_test
from testbed.report.model import Results, Run
from testbed.report.summary import (
    Counts,
    capability_slug,
    count,
    differing,
    matrix,
    rows_by_capability,
    run_labels,
)
from testbed.report.svgutil import esc
from testbed.report.theme import COLOURS, css_variables

DEFAULT_TITLE = "nova-testbed conformance report"


@cache
def _asset(name: str) -> str:
    return resources.files("testbed.report").joinpath(name).read_text(encoding="utf-8")


def _markers() -> str:
    """Arrowhead markers shared by every sequence diagram on the page."""

    def marker(name: str, colour: str, filled: bool) -> str:
        shape = (
            f'<path d="M0 0L9 4.5L0 9z" fill="{colour}"/>'
            if filled
            else f'<path d="M0 0.5L9 4.5L0 8.5" fill="none" stroke="{colour}" stroke-width="1.4"/>'
        )
        return (
            f'<marker id="{name}" viewBox="0 0 10 9" refX="9" refY="4.5" markerWidth="9" '
            f'markerHeight="8" orient="auto-start-reverse" markerUnits="userSpaceOnUse">'
            f"{shape}</marker>"
        )

    defs = "".join(
        [
            marker("mh", COLOURS["http"], True),
            marker("mc", COLOURS["rpc"], True),
            marker("ma", COLOURS["rpc"], False),
            marker("mr", COLOURS["reply"], True),
            marker("md", COLOURS["driver"], True),
        ]
    )
    return (
        f'<svg class="defs" width="0" height="0" aria-hidden="true" '
        f'xmlns="http://www.w3.org/2000/svg"><defs>{defs}</defs></svg>'
    )


def _date(runs: tuple[Run, ...]) -> str:
    stamps = []
    for run in runs:
        try:
            stamp = datetime.fromisoformat(run.started)
        except ValueError:
            continue
        stamps.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
    if not stamps:
        return ""
    return min(stamps).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _bar(c: Counts) -> str:
    if not c.total:
        return '<div class="bar"></div>'
    parts = []
    for cls, n in (
        ("passed", c.passed),
        ("failed", c.failed),
        ("error", c.error),
        ("skipped", c.skipped),
    ):
        if n:
            parts.append(f'<i class="{cls}" style="flex-grow:{n}"></i>')
    return f'<div class="bar">{"".join(parts)}</div>'


def _count_line(c: Counts) -> str:
    parts = [f'<b class="passed">{c.passed}</b> passed', f'<b class="failed">{c.failed}</b> failed']
    if c.error:
        noun = "error" if c.error == 1 else "errors"
        parts.append(f'<b class="error">{c.error}</b> {noun}')
    parts.append(f'<b class="skipped">{c.skipped}</b> skipped')
    return " \u00b7 ".join(parts)


def _run_card(label: str, run: Run) -> str:
    c = count(run.tests)
    tests = "1 test" if len(run.tests) == 1 else f"{len(run.tests)} tests"
    workers = "1 worker" if run.workers == 1 else f"{run.workers} workers"
    env = " \u00b7 ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(run.environment.items()))
    status = "fail" if c.bad else "pass"
    return (
        f'<div class="card {status}"><h2>{esc(label)}</h2>{_bar(c)}'
        f'<p class="counts">{_count_line(c)}</p>'
        f'<p class="meta">{esc(run.backend)}: {tests} in {run.wall_time:.1f} s '
        f"with {workers}</p>" + (f'<p class="env">{env}</p>' if env else "") + "</div>"
    )


def _cell(c: Counts | None, slug: str) -> str:
    if c is None:
        return '<td class="empty"><span>\u2014</span></td>'
    bits = [f'<span class="p">{c.passed}\u2009\u2713</span>']
    if c.bad:
        bits.append(f'<span class="f">{c.bad}\u2009\u2717</span>')
    if c.skipped:
        bits.append(f'<span class="s">{c.skipped}\u2009\u25cb</span>')
    tip = f"{c.passed} passed, {c.failed} failed, {c.error} errors, {c.skipped} skipped"
    return f'<td class="{c.status}"><a href="#{slug}" title="{tip}">{"".join(bits)}</a></td>'


def _matrix(results: Results, labels: list[str]) -> str:
    head = "".join(f"<th>{esc(label)}</th>" for label in labels)
    rows = []
    for cap, cells in matrix(results):
        slug = capability_slug(cap)
        tds = "".join(_cell(c, slug) for c in cells)
        rows.append(f'<tr><th class="cap"><a href="#{slug}">{esc(cap)}</a></th>{tds}</tr>')
    return (
        '<section class="matrix"><h2>Capabilities</h2>'
        '<p class="hint">\u2713 passed \u00b7 \u2717 failed or error \u00b7 \u25cb skipped '
        "\u00b7 click a cell to jump to its tests</p>"
        f'<table><thead><tr><th class="cap">capability</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _key() -> str:
    """A one-line key to the sequence diagrams' arrows and notes."""
    items = [
        ("h", "HTTP request"),
        ("c", "RPC call"),
        ("a", "RPC cast / fanout"),
        ("r", "reply"),
        ("d", "driver call"),
    ]
    parts, x = [], 0
    for style, label in items:
        parts.append(
            f'<path class="{style}" d="M{x} 11H{x + 34}"/><text x="{x + 40}" y="15">{label}</text>'
        )
        x += 48 + int(len(label) * 6.3) + 18
    for style, label in (("n", "DB write"), ("x", "fault")):
        w = int(len(label) * 6.3) + 12
        parts.append(
            f'<g class="{style}"><rect x="{x}" y="3" width="{w}" height="15" rx="3"/>'
            f'<text x="{x + 6}" y="14">{label}</text></g>'
        )
        x += w + 18
    return (
        f'<p class="key"><span>Request flows:</span><svg class="sq k" '
        f'xmlns="http://www.w3.org/2000/svg" width="{x}" height="22" role="img" '
        f'aria-label="key to the diagrams">{"".join(parts)}</svg></p>'
    )


def _toolbar(n_tests: int, n_differs: int) -> str:
    differs = (
        f'<button type="button" data-filter="differs">Differs ({n_differs})</button>'
        if n_differs
        else ""
    )
    return (
        '<nav class="toolbar" aria-label="filters">'
        f'<button type="button" data-filter="all" class="on">All ({n_tests})</button>'
        '<button type="button" data-filter="bad">Failures</button>'
        f'{differs}<button type="button" data-filter="skip">Skipped</button>'
        '<input type="search" placeholder="Filter by name or id\u2026" aria-label="filter">'
        '<span class="grow"></span>'
        '<button type="button" data-act="open">Expand all</button>'
        '<button type="button" data-act="close">Collapse all</button></nav>'
    )


def render_report(results: Results, title: str = DEFAULT_TITLE) -> str:
    """Render ``results`` as one self-contained HTML page (inline CSS, SVG and a little JS).

    The output depends only on ``results`` and ``title``: the same input gives the same bytes.
    """
    labels = run_labels(results)
    grouped = rows_by_capability(results)
    n_tests = sum(len(rows) for rows in grouped.values())
    diffs = differing(grouped)
    date = _date(results.runs)
    cards = "".join(_run_card(label, run) for label, run in zip(labels, results.runs, strict=True))
    sub = " \u00b7 ".join(
        filter(
            None,
            [
                date,
                f"{len(results.runs)} backend" + ("" if len(results.runs) == 1 else "s"),
                f"{n_tests} distinct tests",
            ],
        )
    )
    warn = ""
    if diffs:
        noun = "test differs" if len(diffs) == 1 else "tests differ"
        links = ", ".join(f"<code>{esc(r.name)}</code>" for r in diffs[:6])
        more = f" and {len(diffs) - 6} more" if len(diffs) > 6 else ""
        warn = f'<p class="warn"><b>{len(diffs)} {noun} between backends:</b> {links}{more}</p>'
    taken: set[str] = set()
    sections = []
    for cap, rows in grouped.items():
        slug = capability_slug(cap)
        per_run = [
            count(r for row in rows if (r := row.per_run[i]) is not None)
            for i in range(len(labels))
        ]
        counts = " ".join(
            f'<span class="cc {c.status}">{esc(label)} {c.passed}/{c.total}</span>'
            for label, c in zip(labels, per_run, strict=True)
            if c.total
        )
        cols = "".join(f'<span class="cell">{esc(label)}</span>' for label in labels)
        tests = "".join(render_test(row, labels, element_id(row.key, taken)) for row in rows)
        sections.append(
            f'<section class="cap" id="{slug}"><h2>{esc(cap)} <span class="ccs">{counts}'
            f'</span></h2><div class="tests"><div class="colhead"><span class="tn">test</span>'
            f'<span class="tid">id</span>{cols}</div>{tests}</div></section>'
        )
    ncols = len(labels)
    empty = (
        '<p class="empty-note" hidden>No test matches the filter.</p>'
        if n_tests
        else '<p class="empty-note">These results contain no tests.</p>'
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="nova-testbed report">'
        f"<title>{esc(title)}</title><style>{css_variables()}"
        f".tests{{--ncols:{ncols}}}{_asset('style.css')}</style></head><body>"
        f"{_markers()}"
        f'<header class="top"><h1>{esc(title)}</h1><p class="sub">{esc(sub)}</p>'
        f'<div class="cards">{cards}</div>{warn}</header>'
        f"{_matrix(results, labels)}{_key()}{_toolbar(n_tests, len(diffs))}"
        f"<main>{''.join(sections)}</main>"
        f"{empty}<script>{_asset('script.js')}</script></body></html>\n"
    )
