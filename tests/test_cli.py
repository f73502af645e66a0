from __future__ import annotations

import subprocess
import sys

from tessetrack import __version__


def test_version_and_help_run_as_module():
    out = subprocess.run(
        [sys.executable, "-m", "tessetrack", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"tessetrack {__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "tessetrack", "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage" in out.stdout
