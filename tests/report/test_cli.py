"""render_from_files and ``python -m testbed.report``."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from testbed.report import ResultsFormatError, render_from_files
from testbed.report.__main__ import main

from .sample import sample_results


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_render_from_files_merges_backends(tmp_path: Path) -> None:
    fake = _write(tmp_path / "fake.json", sample_results(("fake",)))
    qemu = _write(tmp_path / "qemu.json", sample_results(("qemu",)))
    html, junit = tmp_path / "out" / "index.html", tmp_path / "out" / "junit.xml"
    merged = render_from_files([fake, qemu], html, junit)
    assert [r.backend for r in merged.runs] == ["fake", "qemu"]
    page = html.read_text(encoding="utf-8")
    assert "differs between backends" in page and page.startswith("<!DOCTYPE html>")
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["fake", "qemu"]


def test_render_from_files_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ResultsFormatError, match="no results files"):
        render_from_files([], tmp_path / "x.html")
    bad = _write(tmp_path / "bad.json", {"format": 1, "runs": [{"backend": 3}]})
    with pytest.raises(ResultsFormatError, match=r"bad\.json: runs\[0\]\.backend"):
        render_from_files([bad], tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_main_reports_errors_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path / "bad.json", [])
    assert main([str(bad), "-o", str(tmp_path / "r.html")]) == 2
    assert "bad.json: results: expected an object" in capsys.readouterr().err


def test_module_runs_as_a_program(tmp_path: Path) -> None:
    src = _write(tmp_path / "r.json", sample_results())
    out = tmp_path / "r.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "testbed.report",
            str(src),
            "-o",
            str(out),
            "--junit",
            str(tmp_path / "j.xml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert "fake: 7 tests in 11.8 s with 2 workers: 5 passed, 1 failed, 1 skipped" in proc.stdout
    assert out.exists() and (tmp_path / "j.xml").exists()
