"""An elastic thread pool: a thread per concurrent job, idle threads reused.

Work on the clock may block (an RPC reply, a simulated duration) while holding a thread.
A bounded pool could then fill with blocked jobs while the job that would unblock them
waits in its queue; this pool never makes a job wait for a thread.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["ElasticPool"]

LOG = logging.getLogger(__name__)


class ElasticPool:
    """Runs each submitted callable on a thread of its own or on an idle one."""

    def __init__(self, name: str, *, idle_timeout: float = 30.0) -> None:
        self._name = name
        self._idle_timeout = idle_timeout
        self._jobs: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition()
        self._idle = 0
        self._threads = 0
        self._closed = False

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` soon; never waits for a free thread."""
        with self._cond:
            if self._closed:
                raise RuntimeError(f"pool {self._name} is closed")
            self._jobs.append(job)
            if len(self._jobs) > self._idle:
                self._threads += 1
                worker = threading.Thread(
                    target=self._work, name=f"{self._name}-{self._threads}", daemon=True
                )
                worker.start()
            else:
                self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    if self._closed:
                        self._threads -= 1
                        return
                    self._idle += 1
                    woken = self._cond.wait(self._idle_timeout)
                    self._idle -= 1
                    if not woken and not self._jobs:
                        self._threads -= 1
                        return
                job = self._jobs.popleft()
            try:
                job()
            except Exception:
                LOG.exception("job on %s failed", self._name)

    def close(self) -> None:
        """Let idle threads exit; queued jobs still run."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
