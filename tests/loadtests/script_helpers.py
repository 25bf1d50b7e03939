"""Running a load-test script the way a developer does, for the tests that keep each one runnable."""

from __future__ import annotations

import subprocess
import sys

from loadtests.common import REPO


def run_script(module: str, *args: str, timeout: float = 240, env: dict[str, str] | None = None) -> str:
    """``python -m loadtests.<module> args`` from the checkout; its stdout, once it exited 0 (else the test fails
    with everything it printed)."""
    done = subprocess.run(
        [sys.executable, "-m", f"loadtests.{module}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
