"""Compute API microversions, negotiated as Nova does.

A client asks for a version with ``OpenStack-API-Version: compute 2.X`` (preferred) or the
legacy ``X-OpenStack-Nova-API-Version: 2.X``; no header means the minimum (2.1) and
``latest`` the maximum (``Config.max_microversion``).  A malformed version is a 400, one
outside [min, max] a 406.  Every versioned response says which version it answered with,
in both headers, plus ``Vary`` naming them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from testbed.exceptions import BadRequest, CloudError
from testbed.web.app import ApiRequest

__all__ = [
    "MIN_VERSION",
    "APIVersion",
    "VersionNotAcceptable",
    "max_version",
    "requested_version",
    "version_headers",
]

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
NEW_HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE_TYPE = "compute"


class VersionNotAcceptable(CloudError):
    """The requested microversion is outside what the API supports (406)."""

    code = 406
    msg_fmt = "Version %(version)s is not supported by the API."


@dataclass(frozen=True, order=True)
class APIVersion:
    """A microversion, ordered as numbers (2.10 > 2.9)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        """``"2.47"`` -> APIVersion(2, 47); a malformed string is a 400 as in Nova."""
        match = _FORMAT.match(text.strip())
        if match is None:
            raise BadRequest(
                f"API Version String {text} is of invalid format. "
                "Must be of format MajorNum.MinorNum."
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


MIN_VERSION = APIVersion(2, 1)


def max_version(request: ApiRequest) -> APIVersion:
    """The highest microversion this cloud serves (``Config.max_microversion``)."""
    return APIVersion.parse(request.runtime.config.max_microversion)


def _asked(request: ApiRequest) -> str | None:
    new = request.header(NEW_HEADER)
    if new:
        for part in new.split(","):
            words = part.strip().split()
            if len(words) == 2 and words[0].lower() == SERVICE_TYPE:
                return words[1]
    legacy = request.header(LEGACY_HEADER)
    return legacy.strip() if legacy else None


def requested_version(request: ApiRequest) -> APIVersion:
    """The microversion ``request`` is served at (400/406 when unusable)."""
    text = _asked(request)
    top = max_version(request)
    if text is None:
        return MIN_VERSION
    if text.lower() == "latest":
        return top
    version = APIVersion.parse(text)
    if not MIN_VERSION <= version <= top:
        raise VersionNotAcceptable(
            f"Version {version} is not supported by the API. "
            f"Minimum is {MIN_VERSION} and maximum is {top}."
        )
    return version


def version_headers(version: APIVersion) -> dict[str, str]:
    """The response headers announcing ``version``."""
    return {
        NEW_HEADER: f"{SERVICE_TYPE} {version}",
        LEGACY_HEADER: str(version),
        "Vary": f"{NEW_HEADER}, {LEGACY_HEADER}",
    }
