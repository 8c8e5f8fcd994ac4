"""The `testbed` command: argument handling and `testbed report`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.cli import build_parser, main
from tests.report.sample import sample_results


def test_report_rerenders_saved_results_of_two_backends(tmp_path: Path) -> None:
    results = sample_results(("fake", "qemu"))
    paths = []
    for run in results["runs"]:
        path = tmp_path / f"{run['backend']}.json"
        path.write_text(json.dumps({"format": 1, "runs": [run]}))
        paths.append(str(path))
    html, junit = tmp_path / "out.html", tmp_path / "out.xml"
    assert main(["report", *paths, "--html", str(html), "--junit", str(junit)]) == 0
    page = html.read_text()
    assert "<svg" in page and "fake" in page and "qemu" in page
    assert junit.read_text().startswith("<?xml")


def test_conformance_defaults_write_results_beside_the_report() -> None:
    args = build_parser().parse_args(["conformance", "--html", "out/x.html"])
    assert (args.backend, args.n, args.html) == ("fake", "auto", "out/x.html")


@pytest.mark.parametrize(
    "argv", [["up", "--backend", "nope"], ["conformance", "--backend", "x"], ["frobnicate"]]
)
def test_bad_arguments_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: testbed" in capsys.readouterr().err
