"""The generated constants equal libvirt-python's and the generator is reproducible."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import fakevirt
from fakevirt import constants

ROOT = Path(__file__).resolve().parents[2]
API_XML = Path("/usr/share/libvirt/api/libvirt-api.xml")


def test_constants_match_real_libvirt() -> None:
    """Every generated constant has the real module's value, and none is missing."""
    try:
        real = importlib.import_module("libvirt")
    except ImportError:
        pytest.skip("libvirt-python is not importable")
    ours = set(constants.__all__)
    theirs = {n for n in dir(real) if n.startswith("VIR_")}
    assert ours == theirs, (sorted(theirs - ours)[:10], sorted(ours - theirs)[:10])
    for name in ours & theirs:
        assert getattr(constants, name) == getattr(real, name), name


def test_constants_reexported() -> None:
    """The package re-exports every constant."""
    for name in constants.__all__:
        assert getattr(fakevirt, name) == getattr(constants, name)
    assert "VIR_DOMAIN_RUNNING" in fakevirt.__all__


@pytest.mark.skipif(not API_XML.exists(), reason="libvirt-api.xml is not installed")
def test_generator_reproduces_committed_file() -> None:
    """tools/gen_fakevirt_constants.py regenerates fakevirt/constants.py byte for byte."""
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "gen_fakevirt_constants.py"),
            str(API_XML),
            "-o",
            "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout == (ROOT / "fakevirt" / "constants.py").read_text()
