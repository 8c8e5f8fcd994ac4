"""The HTML page: content, escaping, self-containment, determinism, size."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

from testbed.report import parse_results, render_report, results_to_json
from testbed.report.summary import capability_slug

from .sample import large_results, sample_results


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _sample_html() -> str:
    return render_report(parse_results(sample_results()))


def test_header_shows_counts_wall_time_and_workers_per_backend() -> None:
    text = " ".join(_parse(_sample_html()).text)
    assert "fake: 7 tests in 11.8 s with 2 workers" in text
    assert "qemu: 6 tests in 41.8 s with 1 worker" in text
    assert "2026-11-24 01:00 UTC" in text
    assert "2 tests differ between backends:" in text


def test_matrix_cells_link_to_capability_sections_in_fixed_order() -> None:
    html = _sample_html()
    tags = _parse(html).tags
    ids = [a["id"] for t, a in tags if t == "section" and a.get("id")]
    assert ids == [
        capability_slug(c)
        for c in ("lifecycle", "resize", "live-migration-block", "evacuate", "quotas")
    ]
    cells = [a["class"] for t, a in tags if t == "td" and a.get("class")]
    assert cells == [
        "pass",
        "pass",
        "pass",
        "pass",
        "pass",
        "fail",
        "fail",
        "pass",
        "pass",
        "empty",
    ]
    links = {a["href"] for t, a in tags if t == "a" and (a.get("href") or "").startswith("#")}
    assert links == {f"#{i}" for i in ids}
    assert '<td class="empty"><span>\u2014</span></td>' in html


def test_tests_have_badges_and_differences_are_flagged() -> None:
    tags = _parse(_sample_html()).tags
    details = [a for t, a in tags if t == "details"]
    assert len(details) == 7
    assert sum("data-differs" in a for a in details) == 2
    assert sum("data-bad" in a for a in details) == 2
    flags = [a for t, a in tags if t == "span" and a.get("class") == "flag"]
    assert len(flags) == 2
    badges = [
        a["class"] for t, a in tags if t == "span" and (a.get("class") or "").startswith("badge")
    ]
    assert "badge failed" in badges and "badge error" in badges and "badge skipped" in badges


def test_everything_is_escaped() -> None:
    html = render_report(parse_results(sample_results()), title="</title><script>x()</script>")
    assert "<script>alert(1)" not in html and "<b>&" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "test_boot_and_delete[&lt;b&gt;&amp;&quot;x&quot;]" in html
    assert "\x1b" not in html
    scripts = [t for t, _ in _parse(html).tags if t == "script"]
    assert scripts == ["script"]  # only the report's own


def test_page_is_self_contained() -> None:
    html = _sample_html()
    assert "<link" not in html and " src=" not in html and "@import" not in html
    urls = set(re.findall(r"https?://[^\s\"')]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert html.count('<svg class="sq"') >= 5 and '<svg class="tl"' in html


def test_output_is_deterministic() -> None:
    results = parse_results(sample_results())
    first = render_report(results)
    assert render_report(results) == first
    assert render_report(parse_results(results_to_json(results))) == first
    assert not re.search(r"id=\"[^\"]*[0-9a-f]{32}", first)  # no random ids


def test_identical_drawings_on_two_backends_are_shown_once() -> None:
    html = _sample_html()
    assert "Same request flow as on fake." in html


def test_large_report_stays_small_and_fast() -> None:
    data = large_results(200, 100)
    for test in data["runs"][1]["tests"]:  # make every qemu trace differ from fake's
        for event in test["trace"]:
            event["t"] += 0.005 * event["seq"]
    results = parse_results(data)
    start = time.perf_counter()
    html = render_report(results)
    elapsed = time.perf_counter() - start
    assert len(html.encode()) < 8_000_000, len(html)
    assert elapsed < 5.0
    assert html.count('<svg class="sq"') == 400


def test_empty_results_render_a_page_that_says_so() -> None:
    html = render_report(parse_results({"format": 1, "runs": []}))
    assert "These results contain no tests." in html and html.endswith("</html>\n")
