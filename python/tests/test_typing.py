"""The package is typed (py.typed): its own code passes mypy --strict."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ratesync_bridge"


def test_mypy_strict() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed in this virtualenv")
    with tempfile.TemporaryDirectory() as cache:
        r = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--cache-dir", cache, str(PACKAGE)],
            capture_output=True, text=True,
        )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (PACKAGE / "py.typed").is_file()
