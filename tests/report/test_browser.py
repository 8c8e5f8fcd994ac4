"""The report in a real headless browser (Debian's chromium): screenshot and DOM checks.

The screenshot is checked by colour: the matrix cells and the sequence-diagram lifeline
heads have known colours (testbed.report.theme), so their pixel counts show that they are
really drawn on screen. Skipped when chromium is not installed (CI installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from testbed.report import parse_results, write_report
from testbed.report.theme import LIFELINE_HEAD_FILL, MATRIX_FAIL_BG, MATRIX_PASS_BG
from testbed.report.timeline import fill_for

from .png import decode_png
from .sample import sample_results

CHROMIUM = os.environ.get("TESTBED_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
WIDTH, HEIGHT = 1400, 2000

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"chromium not found at {CHROMIUM} (apt-get install chromium; CI installs it)",
)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _near(counts: Counter[tuple[int, int, int]], colour: str, tolerance: int = 2) -> int:
    want = _rgb(colour)
    return sum(
        n
        for rgb, n in counts.items()
        if all(abs(a - b) <= tolerance for a, b in zip(rgb, want, strict=True))
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report.html"
    write_report(parse_results(sample_results()), out)
    return out


def _screenshot(tmp_path: Path, url: str) -> Counter[tuple[int, int, int]]:
    png = tmp_path / "shot.png"
    proc = _chromium(tmp_path, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", url)
    assert png.exists(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    image = decode_png(png.read_bytes())
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    return image.colour_counts()


def test_screenshot_shows_matrix_and_sequence_diagram(report: Path, tmp_path: Path) -> None:
    counts = _screenshot(tmp_path, report.as_uri() + "#expand-all")
    pass_px = _near(counts, MATRIX_PASS_BG)
    fail_px = _near(counts, MATRIX_FAIL_BG)
    head_px = _near(counts, LIFELINE_HEAD_FILL)
    active_px = _near(counts, fill_for("vm_state", "active"))
    # Seven green and two red cells of about 150 x 34 px; nine lifeline heads ~110 x 34 px.
    assert pass_px > 7 * 3000, pass_px
    assert fail_px > 2 * 3000, fail_px
    assert head_px > 9 * 2500, head_px
    assert active_px > 500, active_px  # the state timeline of the first test
    # Kept for people to look at (pytest keeps the last few tmp_path directories).
    print(f"screenshot: {tmp_path / 'shot.png'}")


def test_details_are_collapsed_until_opened(report: Path, tmp_path: Path) -> None:
    counts = _screenshot(tmp_path, report.as_uri())
    assert _near(counts, MATRIX_PASS_BG) > 7 * 3000
    assert _near(counts, LIFELINE_HEAD_FILL) == 0


def test_dom_holds_the_svg_diagrams(report: Path, tmp_path: Path) -> None:
    proc = _chromium(tmp_path, "--dump-dom", report.as_uri() + "#expand-all")
    dom = proc.stdout
    assert proc.returncode == 0 and "<html" in dom[:200], proc.stderr[-2000:]
    assert dom.count('<svg class="sq"') >= 5
    assert dom.count('<svg class="tl"') >= 5
    assert dom.count("<marker ") == 5
    # The script ran: every test is open, and the filters are in place.
    assert dom.count("<details ") == 7 and dom.count('open=""') == 7
    assert "differs between backends" in dom
