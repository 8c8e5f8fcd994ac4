"""Waiting for what a guest prints on its serial console (a file on the node).

The wait follows the file as it grows (``tail -F`` inside the node, streamed over one
``docker exec``) and returns as soon as a matching line arrives: no sleep-polling, and bounded
by a timeout that fails with the last lines seen.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

#: How often ``tail -F`` in the node looks at the file (it polls on overlayfs).
POLL_SECONDS = 0.05
HEARTBEAT = re.compile(r"^heartbeat (\d+)\s*$")
DISK_COUNTER = re.compile(r"^disk-counter (\d+)\s*$")


class SerialTimeout(TimeoutError):
    """The expected line did not appear in time; the message shows the last lines seen."""


class _HasContainer(Protocol):
    name: str

    @property
    def container(self) -> Any: ...


def wait_for_line(
    node: _HasContainer,
    path: str,
    pattern: str | re.Pattern[str],
    *,
    timeout: float = 60.0,
    accept: Callable[[re.Match[str]], bool] | None = None,
) -> re.Match[str]:
    """Wait until a line of ``path`` on ``node`` matches ``pattern`` (and, if given,
    ``accept(match)`` is true); return the match. Lines already in the file count.

    Raises:
        SerialTimeout: nothing matched within ``timeout`` seconds.
    """
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    container = node.container
    api = container.client.api
    # `timeout` bounds the tail process inside the node even if the stream is never closed.
    # coreutils' tail treats overlayfs as remote and polls instead of using inotify: once a
    # second by default, which would add up to 1 s to every wait; -s makes it 50 ms.
    limit = max(1, int(timeout) + 2)
    exec_id = api.exec_create(
        container.id,
        ["timeout", str(limit), "tail", "-n", "+1", "-s", str(POLL_SECONDS), "-F", path],
        stdout=True,
        stderr=False,
    )["Id"]
    stream = api.exec_start(exec_id, stream=True)
    found: list[re.Match[str]] = []
    seen: deque[str] = deque(maxlen=10)
    done = threading.Event()

    def read() -> None:
        pending = ""
        try:
            for chunk in stream:
                pending += chunk.decode(errors="replace")
                *lines, pending = pending.split("\n")
                for line in lines:
                    line = line.rstrip("\r")
                    seen.append(line)
                    match = regex.search(line)
                    if match and (accept is None or accept(match)):
                        found.append(match)
                        done.set()
                        return
        except Exception:  # the stream was closed under us: we are done anyway
            pass
        finally:
            done.set()

    reader = threading.Thread(target=read, name=f"serial-{node.name}", daemon=True)
    reader.start()
    done.wait(timeout)
    with contextlib.suppress(Exception):
        stream.close()
    if found:
        return found[0]
    tail = "\n".join(seen) or "(nothing)"
    if done.is_set():  # the stream ended early: the node died or the file went away
        raise SerialTimeout(
            f"{path} on {node.name} stopped before a line matched "
            f"{regex.pattern!r}; last lines:\n{tail}"
        )
    raise SerialTimeout(
        f"no line matching {regex.pattern!r} in {path} on {node.name} within {timeout:.0f} s; "
        f"last lines:\n{tail}"
    )


def wait_for_heartbeat(
    node: _HasContainer, path: str, *, above: int = 0, timeout: float = 60.0
) -> int:
    """Wait for a ``heartbeat N`` line with N > ``above`` in ``path``; return N (the first
    such line in the file)."""
    match = wait_for_line(
        node, path, HEARTBEAT, timeout=timeout, accept=lambda m: int(m.group(1)) > above
    )
    return int(match.group(1))


def heartbeats(text: str) -> list[int]:
    """All heartbeat counters in a serial log's text, in order."""
    return [int(m.group(1)) for line in text.splitlines() if (m := HEARTBEAT.match(line))]
