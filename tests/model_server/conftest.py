from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest


class CliRunner:
    """Runs a CLI in a scratch working directory with a timeout; stdin is closed unless given."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def __call__(
        self, args: list[str], env: dict[str, str], *, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            env=env,
            cwd=self.workdir,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @staticmethod
    def json_lines(stdout: str) -> list[dict[str, Any]]:
        out = []
        for line in stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


@pytest.fixture
def run_cli(tmp_path: Path) -> CliRunner:
    # A scratch cwd, so no CLAUDE.md / AGENTS.md of the repository is read.
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return CliRunner(workdir)
