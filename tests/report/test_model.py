"""Loading and validating results JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from testbed.report import (
    ResultsFormatError,
    load_results,
    merge_results,
    parse_results,
    results_to_json,
)

from .sample import sample_results


def _broken(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(sample_results())
    mutate(data)
    return data


def test_sample_parses_into_typed_results() -> None:
    results = parse_results(sample_results())
    assert [r.backend for r in results.runs] == ["fake", "qemu"]
    fake = results.runs[0]
    assert fake.workers == 2 and fake.wall_time == pytest.approx(11.8)
    assert fake.environment["python"] == "3.11.7"
    boot = fake.tests[0]
    assert boot.name == "test_boot" and boot.outcome == "passed"
    assert boot.trace[0].kind == "http" and boot.trace[0].detail == {"status": 201}
    assert [e.seq for e in boot.trace] == sorted(e.seq for e in boot.trace)


def test_round_trip_through_json_is_lossless() -> None:
    results = parse_results(sample_results())
    again = parse_results(json.loads(json.dumps(results_to_json(results))))
    assert again == results


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("runs"), "results: missing required key 'runs'"),
        (lambda d: d.update(format=2), "results.format: unsupported format 2"),
        (lambda d: d.update(runs={}), "results.runs: expected a list"),
        (lambda d: d["runs"][0].pop("backend"), "runs[0]: missing required key 'backend'"),
        (
            lambda d: d["runs"][1].update(workers="2"),
            'runs[1].workers: expected an integer, got "2"',
        ),
        (lambda d: d["runs"][0].update(wall_time=-1), "runs[0].wall_time: expected a number >= 0"),
        (
            lambda d: d["runs"][0]["tests"][2].update(outcome="xfail"),
            "runs[0].tests[2].outcome: expected one of passed, failed, skipped, error",
        ),
        (
            lambda d: d["runs"][0]["tests"][0].update(duration=True),
            "runs[0].tests[0].duration: expected a number, got true",
        ),
        (
            lambda d: d["runs"][0]["tests"][0]["trace"][3].update(kind="rpc"),
            "runs[0].tests[0].trace[3].kind: expected one of http, rpc.call",
        ),
        (
            lambda d: d["runs"][0]["tests"][0]["trace"][1].update(target=5),
            "runs[0].tests[0].trace[1].target: expected a string or null, got 5",
        ),
        (
            lambda d: d["runs"][0]["tests"][0]["trace"][0].update(detail=[1]),
            "runs[0].tests[0].trace[0].detail: expected an object",
        ),
        (
            lambda d: d["runs"][0]["environment"].update(python={"v": 3}),
            "runs[0].environment.python: expected a scalar",
        ),
    ],
)
def test_bad_input_names_the_offending_path(mutate: Any, message: str) -> None:
    with pytest.raises(ResultsFormatError) as info:
        parse_results(_broken(mutate))
    assert message in str(info.value)


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(ResultsFormatError, match="results: expected an object"):
        parse_results([1, 2])


def test_optional_fields_default_and_unknown_keys_are_ignored() -> None:
    data = sample_results()
    test = data["runs"][0]["tests"][0]
    for key in ("message", "longrepr", "trace"):
        test.pop(key)
    test["future_field"] = {"anything": 1}
    event = data["runs"][1]["tests"][0]["trace"][0]
    event.pop("detail")
    event.pop("duration")
    results = parse_results(data)
    first = results.runs[0].tests[0]
    assert first.message == "" and first.longrepr is None and first.trace == ()
    assert results.runs[1].tests[0].trace[0].detail == {}


def test_load_results_errors_name_the_file(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsFormatError, match=r"bad\.json: not valid JSON"):
        load_results(bad_json)
    bad_shape = tmp_path / "shape.json"
    bad_shape.write_text(json.dumps({"format": 1, "runs": [{}]}), encoding="utf-8")
    with pytest.raises(ResultsFormatError, match=r"shape\.json: runs\[0\]: missing"):
        load_results(bad_shape)


def test_merge_keeps_run_order(tmp_path: Path) -> None:
    fake = parse_results(sample_results(("fake",)))
    qemu = parse_results(sample_results(("qemu",)))
    assert [r.backend for r in merge_results([qemu, fake]).runs] == ["qemu", "fake"]
