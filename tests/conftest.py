"""Shared fixtures: the installed ``vigil`` console script."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def vigil_exe() -> str:
    """The ``vigil`` console script of the environment running the tests."""
    beside = Path(sys.executable).parent / "vigil"
    found = str(beside) if beside.exists() else shutil.which("vigil")
    if found is None:
        pytest.fail("the vigil console script is not installed (pip install -e .)")
    return found
