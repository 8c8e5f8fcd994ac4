"""Route tables of the compute API's resource modules.

Each resource module keeps a :class:`RouteTable` and declares its handlers on it; the app
registers every table on its :class:`JsonApp`.  Every handler registered here is served
at a microversion: the request's version is checked (400/406) and announced in the
response headers before the handler runs, and a handler limited to a range of versions
answers 404 outside it, as Nova's versioned methods do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from testbed.api.microversions import APIVersion, requested_version, version_headers
from testbed.exceptions import NotFound
from testbed.web.app import ApiRequest, JsonApp

__all__ = ["RouteTable"]

Handler = Callable[..., Any]


@dataclass(frozen=True)
class _Route:
    rule: str
    methods: tuple[str, ...]
    handler: Handler
    min_version: APIVersion | None
    max_version: APIVersion | None
    public: bool
    versioned: bool


@dataclass
class RouteTable:
    """The routes of one resource module."""

    routes: list[_Route] = field(default_factory=list)

    def route(
        self,
        rule: str,
        methods: list[str],
        *,
        min_version: str | None = None,
        max_version: str | None = None,
        public: bool = False,
        versioned: bool = True,
    ) -> Callable[[Handler], Handler]:
        """Declare a handler; ``min_version``/``max_version`` bound its microversions."""

        def declare(fn: Handler) -> Handler:
            self.routes.append(
                _Route(
                    rule,
                    tuple(methods),
                    fn,
                    APIVersion.parse(min_version) if min_version else None,
                    APIVersion.parse(max_version) if max_version else None,
                    public,
                    versioned,
                )
            )
            return fn

        return declare

    def register(self, app: JsonApp) -> None:
        """Add every route of this table to ``app``."""
        for route in self.routes:
            handler = _versioned(route) if route.versioned else route.handler
            app.route(route.rule, route.methods, public=route.public)(handler)


def _versioned(route: _Route) -> Handler:
    @functools.wraps(route.handler)
    def serve(req: ApiRequest, **args: Any) -> Any:
        version = requested_version(req)
        req.response_headers.update(version_headers(version))
        too_low = route.min_version is not None and version < route.min_version
        too_high = route.max_version is not None and version > route.max_version
        if too_low or too_high:
            raise NotFound("The resource could not be found.")
        return route.handler(req, **args)

    return serve
