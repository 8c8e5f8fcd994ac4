"""Typed model of a conformance results file, and a validating loader.

A results file is JSON written by the conformance suite (format 1)::

    {"format": 1, "runs": [Run, ...]}

    Run = {"backend": str, "started": str (ISO 8601), "wall_time": float, "workers": int,
           "environment": {str: scalar}, "tests": [Test, ...]}
    Test = {"nodeid": str, "name": str, "test_id": str, "capability": str,
            "outcome": "passed" | "failed" | "skipped" | "error", "duration": float,
            "message": str | null, "longrepr": str | null, "trace": [TraceEvent, ...]}
    TraceEvent = {"seq": int, "t": float, "wall": float, "request_id": str, "kind": Kind,
                  "source": str, "target": str | null, "name": str,
                  "instance_uuid": str | null, "detail": {...}, "duration": float | null}

Unknown keys are ignored so that producers can add fields; missing or mistyped known keys
raise :class:`ResultsFormatError` naming the offending path (``runs[0].tests[3].outcome``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, cast, get_args

FORMAT_VERSION: Final = 1

Outcome = Literal["passed", "failed", "skipped", "error"]
EventKind = Literal[
    "http",
    "rpc.call",
    "rpc.cast",
    "rpc.reply",
    "rpc.fanout",
    "db",
    "driver",
    "state",
    "fault",
    "log",
]
OUTCOMES: Final[tuple[str, ...]] = get_args(Outcome)
EVENT_KINDS: Final[tuple[str, ...]] = get_args(EventKind)


class ResultsFormatError(ValueError):
    """Raised when a results document does not follow the expected format."""


@dataclass(frozen=True)
class TraceEvent:
    """One thing a test caused in the emulated cloud (an HTTP request, an RPC, a DB write...)."""

    seq: int
    t: float
    wall: float
    request_id: str
    kind: EventKind
    source: str
    target: str | None
    name: str
    instance_uuid: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    duration: float | None = None


@dataclass(frozen=True)
class TestResult:
    """The result of one test on one backend, with the trace of what it caused."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    nodeid: str
    name: str
    test_id: str
    capability: str
    outcome: Outcome
    duration: float
    message: str = ""
    longrepr: str | None = None
    trace: tuple[TraceEvent, ...] = ()

    @property
    def key(self) -> str:
        """The identity used to match this test across backends."""
        return self.test_id or self.nodeid


@dataclass(frozen=True)
class Run:
    """One conformance run against one backend."""

    backend: str
    started: str
    wall_time: float
    workers: int
    environment: Mapping[str, str] = field(default_factory=dict)
    tests: tuple[TestResult, ...] = ()


@dataclass(frozen=True)
class Results:
    """A whole results document: one run per backend, shown side by side."""

    runs: tuple[Run, ...]
    format: int = FORMAT_VERSION


# -- validation helpers ------------------------------------------------------------------------


def _fail(path: str, expected: str, value: object) -> ResultsFormatError:
    shown = json.dumps(value)[:60] if _is_jsonable(value) else repr(value)[:60]
    return ResultsFormatError(f"{path}: expected {expected}, got {shown}")


def _is_jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _obj(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, "an object", value)
    return cast(Mapping[str, Any], value)


def _list(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(path, "a list", value)
    return value


def _need(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise ResultsFormatError(f"{path}: missing required key {key!r}")
    return obj[key]


def _str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = _need(obj, key, path)
    if not isinstance(value, str):
        raise _fail(f"{path}.{key}", "a string", value)
    return value


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _fail(f"{path}.{key}", "a string or null", value)
    return value


def _num(obj: Mapping[str, Any], key: str, path: str, *, minimum: float | None = 0.0) -> float:
    value = _need(obj, key, path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"{path}.{key}", "a number", value)
    if value != value or value in (float("inf"), float("-inf")):
        raise _fail(f"{path}.{key}", "a finite number", value)
    if minimum is not None and value < minimum:
        raise _fail(f"{path}.{key}", f"a number >= {minimum:g}", value)
    return float(value)


def _opt_num(obj: Mapping[str, Any], key: str, path: str) -> float | None:
    if obj.get(key) is None:
        return None
    return _num(obj, key, path)


def _int(obj: Mapping[str, Any], key: str, path: str) -> int:
    value = _need(obj, key, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{path}.{key}", "an integer", value)
    return value


def _choice(obj: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...]) -> str:
    value = _str(obj, key, path)
    if value not in choices:
        raise _fail(f"{path}.{key}", "one of " + ", ".join(choices), value)
    return value


def _items(
    obj: Mapping[str, Any], key: str, path: str, default_empty: bool = False
) -> list[tuple[str, Any]]:
    if default_empty and obj.get(key) is None:
        return []
    values = _list(_need(obj, key, path), f"{path}.{key}")
    return [(f"{path}.{key}[{i}]", item) for i, item in enumerate(values)]


# -- parsers -----------------------------------------------------------------------------------


def _parse_event(value: object, path: str) -> TraceEvent:
    obj = _obj(value, path)
    detail = obj.get("detail")
    if detail is None:
        detail = {}
    return TraceEvent(
        seq=_int(obj, "seq", path),
        t=_num(obj, "t", path, minimum=None),
        wall=_num(obj, "wall", path, minimum=None),
        request_id=_opt_str(obj, "request_id", path) or "",
        kind=cast(EventKind, _choice(obj, "kind", path, EVENT_KINDS)),
        source=_str(obj, "source", path),
        target=_opt_str(obj, "target", path),
        name=_str(obj, "name", path),
        instance_uuid=_opt_str(obj, "instance_uuid", path),
        detail=dict(_obj(detail, f"{path}.detail")),
        duration=_opt_num(obj, "duration", path),
    )


def _parse_test(value: object, path: str) -> TestResult:
    obj = _obj(value, path)
    trace = tuple(_parse_event(v, p) for p, v in _items(obj, "trace", path, default_empty=True))
    return TestResult(
        nodeid=_str(obj, "nodeid", path),
        name=_str(obj, "name", path),
        test_id=_opt_str(obj, "test_id", path) or "",
        capability=_opt_str(obj, "capability", path) or "uncategorised",
        outcome=cast(Outcome, _choice(obj, "outcome", path, OUTCOMES)),
        duration=_num(obj, "duration", path),
        message=_opt_str(obj, "message", path) or "",
        longrepr=_opt_str(obj, "longrepr", path),
        trace=tuple(sorted(trace, key=lambda e: e.seq)),
    )


def _parse_run(value: object, path: str) -> Run:
    obj = _obj(value, path)
    env_raw = _obj(obj.get("environment") or {}, f"{path}.environment")
    environment: dict[str, str] = {}
    for k, v in env_raw.items():
        if isinstance(v, Mapping | list):
            raise _fail(f"{path}.environment.{k}", "a scalar", v)
        environment[str(k)] = "" if v is None else str(v)
    return Run(
        backend=_str(obj, "backend", path),
        started=_opt_str(obj, "started", path) or "",
        wall_time=_num(obj, "wall_time", path),
        workers=_int(obj, "workers", path),
        environment=environment,
        tests=tuple(_parse_test(v, p) for p, v in _items(obj, "tests", path)),
    )


def parse_results(data: object) -> Results:
    """Validate a decoded JSON document and return it as :class:`Results`.

    Raises :class:`ResultsFormatError` with the path of the first problem found.
    """
    obj = _obj(data, "results")
    version = _need(obj, "format", "results")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ResultsFormatError(
            f"results.format: unsupported format {version!r} (this renderer reads {FORMAT_VERSION})"
        )
    runs = tuple(
        _parse_run(v, p.removeprefix("results.")) for p, v in _items(obj, "runs", "results")
    )
    return Results(runs=runs)


def load_results(path: str | Path) -> Results:
    """Read and validate one results JSON file; errors name the file and the bad path."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"{p}: not valid JSON: {exc}") from exc
    try:
        return parse_results(data)
    except ResultsFormatError as exc:
        raise ResultsFormatError(f"{p}: {exc}") from exc


def merge_results(parts: Sequence[Results]) -> Results:
    """Concatenate the runs of several results documents, in order."""
    return Results(runs=tuple(run for part in parts for run in part.runs))


def results_to_json(results: Results) -> dict[str, Any]:
    """The JSON-ready form of ``results`` (the inverse of :func:`parse_results`)."""

    def event(e: TraceEvent) -> dict[str, Any]:
        return {
            "seq": e.seq,
            "t": e.t,
            "wall": e.wall,
            "request_id": e.request_id,
            "kind": e.kind,
            "source": e.source,
            "target": e.target,
            "name": e.name,
            "instance_uuid": e.instance_uuid,
            "detail": dict(e.detail),
            "duration": e.duration,
        }

    def test(t: TestResult) -> dict[str, Any]:
        return {
            "nodeid": t.nodeid,
            "name": t.name,
            "test_id": t.test_id,
            "capability": t.capability,
            "outcome": t.outcome,
            "duration": t.duration,
            "message": t.message,
            "longrepr": t.longrepr,
            "trace": [event(e) for e in t.trace],
        }

    return {
        "format": results.format,
        "runs": [
            {
                "backend": r.backend,
                "started": r.started,
                "wall_time": r.wall_time,
                "workers": r.workers,
                "environment": dict(r.environment),
                "tests": [test(t) for t in r.tests],
            }
            for r in results.runs
        ],
    }
