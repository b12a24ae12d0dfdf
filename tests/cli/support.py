"""Running the ``caw`` command as a user would: a fresh interpreter per command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def caw(
    *args: str,
    env: dict[str, str],
    cwd: Path,
    stdin: str | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caw.cli", *args],
        env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )  # fmt: skip


def last_json(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = out.stdout.strip().splitlines()
    assert lines, f"no output; stderr:\n{out.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result
