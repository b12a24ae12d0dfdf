"""What bench/'s one-off studies share (claude_first_turn.py, codex_first_turn.py,
opencode_first_prompt.py): the scripted model server in-process, timed from its side; an
isolated CLI home; the load average over the run; medians.

bench/run.py and its drivers do not use it: there the model server runs in a process of
its own, so that nothing it does falls inside a measured process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class ModelTiming:
    """The scripted server's observer: when each model request arrived and was answered."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.finished: list[float] = []
        self.bodies: list[Any] = []

    def request_started(self, rec: Any) -> None:
        self.started.append(time.monotonic())
        self.bodies.append(rec.body)

    def event_written(self, rec: Any, name: str, data: dict[str, Any]) -> None:
        pass

    def request_finished(self, rec: Any) -> None:
        self.finished.append(time.monotonic())


class LoadLog:
    """The 1-minute load average, sampled at the start and after each rep."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def sample(self) -> None:
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> str:
        return f"load average (1 min) during the run: median {median(self.samples):.2f}"


@contextlib.contextmanager
def scripted_cli(
    provider: str, observer: ModelTiming | None = None
) -> Iterator[tuple[dict[str, str], Path]]:
    """(the CLI's environment, an empty working folder), in a temporary home that is removed
    afterwards, the CLI pointed at a scripted model server (answers at 0 ms) for as long."""
    from caw.testing import ScriptedModelServer, cli_environment

    root = Path(tempfile.mkdtemp(prefix=f"caw-{provider}-study-"))
    server = ScriptedModelServer(observer=observer)
    server.start()
    try:
        work = root / "work"
        work.mkdir()
        yield cli_environment(provider, server.base_url, root), work
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def cli_path(name: str, env: dict[str, str]) -> str:
    """The pinned CLI ``name`` on the environment's PATH, or exit saying how to install it."""
    found = shutil.which(name, path=env["PATH"])
    if found is None:
        sys.exit(f"{name} is not on PATH (tests/backends: npm ci)")
    return found
