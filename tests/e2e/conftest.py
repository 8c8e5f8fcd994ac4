"""A `testbed up` process on a free port, with its clouds.yaml."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class UpProcess:
    """A running `testbed up`: its base URL and clouds.yaml."""

    url: str
    clouds_yaml: Path
    process: subprocess.Popen[str]


@pytest.fixture(scope="session")
def testbed_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    """Start `testbed up --port 0` and wait for its ready line (reading its output)."""
    workdir = tmp_path_factory.mktemp("up")
    clouds = workdir / "clouds.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "up", "--port", "0", "--clouds-yaml", str(clouds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=workdir,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("testbed: ready at "):
            url = line.split("ready at ", 1)[1].strip()
            break
    else:
        raise AssertionError("testbed up exited before it was ready:\n" + "".join(seen))
    try:
        yield UpProcess(url, clouds, process)
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0, out
        assert "testbed: stopping" in out


@pytest.fixture
def client_env(testbed_up: UpProcess, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing OpenStack clients at the clouds.yaml of `testbed up`."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(testbed_up.clouds_yaml))
    for key in list(os.environ):
        if key.startswith("OS_") and key != "OS_CLIENT_CONFIG_FILE":
            monkeypatch.delenv(key)
    return {"OS_CLIENT_CONFIG_FILE": str(testbed_up.clouds_yaml)}
