"""The embedded cloud: every service in this process, on one runtime.

    with Cloud.start("default") as cloud:
        conn = cloud.connect()          # openstacksdk, in-process (no sockets)
        ...
        cloud.settle()                  # wait until nothing is in flight

:class:`Cloud` assembles the runtime (clock, bus, store, trace), the hypervisor backend,
the services of a topology and one WSGI app that serves every API under its prefix:
``/identity``, ``/compute``, ``/image``, ``/network``, ``/volume`` and the control API
``/testbed``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from testbed.config import Config
from testbed.context import RequestContext
from testbed.runtime import build_runtime
from testbed.service import Runtime, Service
from testbed.topology import Topology, load_topology
from testbed.web.app import json_response

__all__ = ["IN_PROCESS_URL", "Cloud"]

from testbed.clients import IN_PROCESS_URL

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

APPS = {
    "/identity": "testbed.identity.api.build_app",
    "/compute": "testbed.api.app.build_app",
    "/image": "testbed.image.api.build_app",
    "/network": "testbed.network.api.build_app",
    "/volume": "testbed.volume.api.build_app",
}


def _load(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    from werkzeug.wrappers import Request

    path = Request(environ).path
    served = ", ".join([*APPS, "/testbed"])
    body = {"error": {"code": 404, "message": f"No API is served at {path}; try {served}"}}
    return json_response(404, body)(environ, start_response)


class Cloud:
    """An emulated cloud in this process.  Use :meth:`start` (a context manager too)."""

    def __init__(
        self,
        topology: Topology,
        *,
        backend: str = "fake",
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.topology = topology
        self.backend_name = backend
        self._overrides = dict(overrides or {})
        self.runtime: Runtime
        self.services: dict[str, Service] = {}
        self.compute: dict[str, Service] = {}
        self._apps: dict[str, WSGIApp] = {}
        self.app: WSGIApp = self._dispatch
        self._started = False

    # -- life cycle -----------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        topology: str | Path | dict[str, Any] | Topology = "default",
        *,
        backend: str = "fake",
        **overrides: Any,
    ) -> Cloud:
        """Build and start a cloud from a topology (name in fixtures/, path, or dict).

        On the qemu backend the ``default`` topology means ``fixtures/qemu.yaml`` (three
        small real hosts)."""
        if backend == "qemu" and topology == "default":
            topology = "qemu"
        topo = topology if isinstance(topology, Topology) else load_topology(topology)
        cloud = cls(topo, backend=backend, overrides=overrides)
        cloud.boot()
        return cloud

    def boot(self) -> None:
        """Create the runtime, start every service and seed the topology's data."""
        config = Config().with_overrides(**{**self.topology.config, **self._overrides})
        virt = self._make_backend(config)
        self.runtime = build_runtime(config, virt=virt)
        try:
            if virt is not None and hasattr(virt, "attach"):
                virt.attach(self.runtime)
            self._start_services()
            self._seed()
            self._apps = self._build_apps()
        except BaseException:
            self._close_backend()
            raise
        self._started = True
        self.settle()

    def _make_backend(self, config: Config) -> Any:
        if self.backend_name == "fake":
            backend = _load("testbed.virt.fake.FakeBackend")()
        elif self.backend_name == "qemu":
            backend = _load("testbed.virt.qemu.QemuBackend")()
        else:
            raise ValueError(f"unknown backend {self.backend_name!r}; expected fake or qemu")
        for host in self.topology.hosts:
            backend.add_host(host.to_dict())
        return backend

    def _start_services(self) -> None:
        rt = self.runtime
        for name, path in (
            ("identity", "testbed.identity.service.IdentityService"),
            ("image", "testbed.image.service.ImageService"),
            ("network", "testbed.network.service.NetworkService"),
            ("volume", "testbed.volume.service.VolumeService"),
            ("scheduler", "testbed.scheduler.service.SchedulerService"),
            ("conductor", "testbed.conductor.service.ConductorService"),
        ):
            service: Service = _load(path)(rt)
            service.start()
            self.services[name] = service
        compute_cls = _load("testbed.compute.service.ComputeService")
        for host in self.topology.hosts:
            self.start_compute(host.name, compute_cls)

    def start_compute(self, host: str, compute_cls: Any = None) -> Service:
        """Start (or restart) the compute service of ``host``."""
        cls = compute_cls or _load("testbed.compute.service.ComputeService")
        spec = next(h for h in self.topology.hosts if h.name == host)
        service: Service = cls(self.runtime, host=host, availability_zone=spec.availability_zone)
        service.start()
        self.compute[host] = service
        return service

    def stop_compute(self, host: str) -> None:
        """Stop the compute service of ``host`` (it stops heartbeating: a dead service)."""
        service = self.compute.pop(host, None)
        if service is not None:
            service.stop()

    def crash_host(self, host: str) -> None:
        """The host dies: its hypervisor crashes and its compute service with it."""
        self.stop_compute(host)
        self.runtime.virt.crash_host(host)

    def recover_host(self, host: str) -> None:
        """The host comes back: the hypervisor restarts, then its compute service."""
        self.runtime.virt.recover_host(host)
        if host not in self.compute:
            self.start_compute(host)

    def services_for(self, host: str | None) -> list[Any]:
        """Services whose periodic tasks run for ``host`` (all of them for None)."""
        if host is None:
            return [*self.services.values(), *self.compute.values()]
        if host not in self.compute:
            from testbed.exceptions import NotFound

            raise NotFound(f"No running compute service on host {host!r}.")
        return [self.compute[host]]

    def _seed(self) -> None:
        from testbed.seed import seed_topology

        seed_topology(self.runtime, self.topology)

    def _build_apps(self) -> dict[str, WSGIApp]:
        apps: dict[str, WSGIApp] = {
            prefix: _load(path)(self.runtime) for prefix, path in APPS.items()
        }
        apps["/testbed"] = _load("testbed.control.api.build_app")(self.runtime, self)
        return apps

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return DispatcherMiddleware(_not_found, self._apps)(environ, start_response)

    def stop(self) -> None:
        """Stop every service and release the runtime."""
        if not self._started:
            return
        for service in [*self.compute.values(), *self.services.values()]:
            service.stop()
        self.compute.clear()
        self.services.clear()
        self.runtime.bus.close()
        self.runtime.clock.close()
        self.runtime.store.close()
        self._close_backend()
        self._started = False

    def _close_backend(self) -> None:
        """Release what the hypervisor backend holds (the qemu backend's node containers)."""
        close = getattr(self.runtime.virt, "close", None)
        if callable(close):
            close()

    def reset(self, topology: Topology | None = None) -> None:
        """Throw every bit of state away and start again from a topology."""
        self.stop()
        if topology is not None:
            self.topology = topology
        self.boot()

    def __enter__(self) -> Cloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- using it ---------------------------------------------------------------------------
    def settle(self, timeout: float = 60.0) -> None:
        """Wait until nothing is in flight (see :meth:`testbed.clock.SimClock.settle`)."""
        self.runtime.clock.settle(timeout)

    def admin_context(self) -> RequestContext:
        """A context with admin rights, for direct use of services in tests."""
        return RequestContext.admin()

    def connect(
        self, user: str = "admin", password: str | None = None, project: str | None = None
    ) -> Any:
        """An openstacksdk Connection talking to this cloud in-process."""
        from testbed.clients import in_process_connection

        return in_process_connection(self.app, user=user, password=password, project=project)

    @contextlib.contextmanager
    def serve_http(self, port: int = 0) -> Iterator[str]:
        """Serve the cloud on 127.0.0.1 for the ``with`` block; yields the base URL."""
        from testbed.web.server import HttpServer

        with HttpServer(self.app, port=port) as server:
            yield server.url
