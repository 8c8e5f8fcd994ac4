"""Find (or start) the Docker engine the real backend runs its node containers on.

:func:`ensure_engine` returns a ``docker.DockerClient`` for the first engine that answers:

1. ``DOCKER_HOST`` (or the default socket ``/var/run/docker.sock``), when a daemon answers there;
2. otherwise, when running as root and ``dockerd`` is installed (Debian's ``docker.io``), a
   daemon started in the background as
   ``dockerd --iptables=false --ip-masq=false --bridge=none`` with its log in
   ``/var/log/testbed-dockerd.log``. No default bridge and no iptables rules are needed: the
   node containers live on a user-defined bridge network that the host reaches directly.

A daemon started here is left running for the next caller (it is cheap and shared); starting is
serialised with a lock file so that parallel test workers start at most one daemon.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = "/var/run/docker.sock"
DOCKERD_ARGS = ("--iptables=false", "--ip-masq=false", "--bridge=none")
DOCKERD_LOG = Path("/var/log/testbed-dockerd.log")
_LOCK_FILE = Path("/run/testbed-dockerd.lock")

INSTALL_HINT = (
    "install Debian's docker.io (apt-get install -y docker.io) and run as root, "
    "or point DOCKER_HOST at a running Docker engine"
)


class EngineUnavailable(RuntimeError):
    """No Docker engine answers and none could be started; the message says what to install."""


def _client(base_url: str | None) -> Any:
    import docker

    if base_url is None:
        return docker.from_env(timeout=120)
    return docker.DockerClient(base_url=base_url, timeout=120)


def _ping(base_url: str | None) -> Any | None:
    """Return a client when the engine at ``base_url`` answers a ping, else None."""
    try:
        client = _client(base_url)
        client.ping()
    except Exception:
        return None
    return client


def _wait_for_socket(proc: subprocess.Popen[bytes], socket_url: str, timeout: float) -> Any:
    """Wait (bounded backoff, external daemon) until dockerd answers on its socket."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        client = _ping(socket_url)
        if client is not None:
            return client
        if proc.poll() is not None:
            raise EngineUnavailable(
                f"dockerd exited with status {proc.returncode} before answering; see {DOCKERD_LOG}"
            )
        if time.monotonic() >= deadline:
            raise EngineUnavailable(
                f"dockerd did not answer on {socket_url} within {timeout:.0f} s; see {DOCKERD_LOG}"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def start_dockerd(timeout: float = 30.0) -> Any:
    """Start ``dockerd`` in the background (root only) and return a client once it answers.

    Serialised by a lock file: a second caller waits and then finds the first one's daemon.
    """
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable(
            f"no Docker engine answers and dockerd is not installed: {INSTALL_HINT}"
        )
    if os.geteuid() != 0:
        raise EngineUnavailable(
            f"no Docker engine answers and starting dockerd needs root: {INSTALL_HINT}"
        )
    socket_url = f"unix://{DEFAULT_SOCKET}"
    _LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK_FILE.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        client = _ping(socket_url)
        if client is not None:  # another worker started it while we waited for the lock
            return client
        stale_pid = Path("/var/run/docker.pid")
        if stale_pid.exists():
            try:
                os.kill(int(stale_pid.read_text().strip() or "0"), 0)
            except (ValueError, ProcessLookupError):
                stale_pid.unlink(missing_ok=True)
        DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
        with DOCKERD_LOG.open("ab") as log:
            proc = subprocess.Popen(
                [dockerd, *DOCKERD_ARGS],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return _wait_for_socket(proc, socket_url, timeout)


def ensure_engine(*, start: bool = True, timeout: float = 30.0) -> Any:
    """Return a ``docker.DockerClient`` for an engine that answers, starting one if needed.

    Args:
        start: when no engine answers, start ``dockerd`` (root + docker.io installed).
        timeout: how long to wait for a freshly started daemon to answer.

    Raises:
        EngineUnavailable: nothing answers and nothing could be started (says what to install).
    """
    try:
        import docker  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EngineUnavailable(
            "the docker SDK is not installed: pip install 'nova-testbed[qemu]'"
        ) from exc
    docker_host = os.environ.get("DOCKER_HOST")
    client = _ping(None) if docker_host else _ping(f"unix://{DEFAULT_SOCKET}")
    if client is not None:
        return client
    if docker_host:
        raise EngineUnavailable(f"DOCKER_HOST={docker_host} does not answer")
    if not start:
        raise EngineUnavailable(f"no Docker engine answers at {DEFAULT_SOCKET}: {INSTALL_HINT}")
    return start_dockerd(timeout=timeout)


def engine_available() -> str | None:
    """Return None when an engine answers or could be started, else the reason why not.

    Does not start anything: used by tests to decide whether to skip.
    """
    try:
        import docker  # noqa: F401
    except ImportError:
        return "the docker SDK is not installed (pip install 'nova-testbed[qemu]')"
    if os.environ.get("DOCKER_HOST"):
        return (
            None
            if _ping(None) is not None
            else f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer"
        )
    if _ping(f"unix://{DEFAULT_SOCKET}") is not None:
        return None
    if shutil.which("dockerd") is None:
        return f"no Docker engine answers and dockerd is not installed ({INSTALL_HINT})"
    if os.geteuid() != 0:
        return f"no Docker engine answers and starting dockerd needs root ({INSTALL_HINT})"
    return None
