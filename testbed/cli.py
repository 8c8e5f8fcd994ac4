"""The ``testbed`` command.

testbed up            serve an embedded cloud on 127.0.0.1 and write clouds.yaml
testbed conformance   run the conformance suite and write the HTML report
testbed report        re-render the report from saved results
testbed image build   build the real backend's node image (libvirt + QEMU)
testbed db upgrade    migrate a SQL database to the current schema
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _up(args: argparse.Namespace) -> int:
    from testbed.clients import write_clouds_yaml
    from testbed.cloud import Cloud
    from testbed.topology import TopologyError

    try:
        cloud = Cloud.start(args.topology, backend=args.backend)
    except TopologyError as exc:
        print(f"testbed up: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with cloud.serve_http(args.port) as url:
            path = write_clouds_yaml(args.clouds_yaml, url)
            hosts = ", ".join(h.name for h in cloud.topology.hosts)
            print(f"testbed: {args.backend} cloud '{cloud.topology.name}' with hosts {hosts}")
            print(f"testbed: identity endpoint {url}/identity/v3")
            print(f"testbed: clouds.yaml written to {path} (clouds: testbed, testbed-demo)")
            print(f"testbed: ready at {url}", flush=True)
            stop.wait()
            print("testbed: stopping", flush=True)
    finally:
        cloud.stop()
    return 0


def _conformance(args: argparse.Namespace) -> int:
    from testbed.conformance_runner import run_conformance

    return run_conformance(
        backend=args.backend,
        cloud=args.cloud,
        keyword=args.k,
        workers=args.n,
        html=Path(args.html),
        junit=Path(args.junit) if args.junit else None,
        results=Path(args.results),
        extra=args.pytest_args,
    )


def _report(args: argparse.Namespace) -> int:
    from testbed.report import render_from_files

    render_from_files(
        [Path(p) for p in args.results], Path(args.html), Path(args.junit) if args.junit else None
    )
    print(f"testbed: report written to {args.html}")
    return 0


def _image_build(args: argparse.Namespace) -> int:
    from testbed.qemu.image import build_cli

    return int(build_cli(args.rest))


def _db_upgrade(args: argparse.Namespace) -> int:
    from testbed.store.migrate import upgrade

    upgrade(args.url)
    print(f"testbed: {args.url} is at the current schema")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``testbed`` command."""
    parser = argparse.ArgumentParser(
        prog="testbed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="serve an embedded cloud on 127.0.0.1")
    up.add_argument("--port", type=int, default=8774, help="port (default 8774; 0: any)")
    up.add_argument("--clouds-yaml", default="clouds.yaml", help="where to write clouds.yaml")
    up.add_argument("--topology", default="default", help="fixtures/NAME.yaml or a path")
    up.add_argument("--backend", choices=("fake", "qemu"), default="fake")
    up.set_defaults(func=_up)

    conf = sub.add_parser("conformance", help="run the conformance suite")
    conf.add_argument("--backend", choices=("fake", "qemu", "external"), default="fake")
    conf.add_argument("--cloud", default=None, help="clouds.yaml cloud (external backend)")
    conf.add_argument("-k", default=None, help="only tests matching this expression")
    conf.add_argument("-n", default="auto", help="workers (pytest-xdist): N or auto")
    conf.add_argument("--html", default="reports/conformance.html")
    conf.add_argument("--junit", default="reports/conformance.xml")
    conf.add_argument(
        "--results", default=None, help="results JSON (default: beside the HTML, <backend>.json)"
    )
    conf.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    conf.set_defaults(func=_conformance)

    rep = sub.add_parser("report", help="re-render the report from saved results")
    rep.add_argument("results", nargs="+", help="results JSON files (one per backend)")
    rep.add_argument("--html", default="reports/conformance.html")
    rep.add_argument("--junit", default=None)
    rep.set_defaults(func=_report)

    image = sub.add_parser("image", help="the real backend's node image")
    image_sub = image.add_subparsers(dest="image_command", required=True)
    build = image_sub.add_parser("build", help="build (or reuse) the node image")
    build.add_argument("rest", nargs=argparse.REMAINDER)
    build.set_defaults(func=_image_build)

    db = sub.add_parser("db", help="the SQL store")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="migrate a database to the current schema")
    upgrade.add_argument("--url", required=True, help="SQLAlchemy URL")
    upgrade.set_defaults(func=_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``testbed`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "conformance" and args.results is None:
        args.results = str(Path(args.html).with_name(f"{args.backend}.json"))
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
