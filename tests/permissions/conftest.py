"""Shared by the permission tests: a work dir, and prompts that make the model use a tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.conftest import spawn_daemon as spawn_daemon  # the daemon tests' fixture


def touch(name: str) -> str:
    """A prompt whose model reply runs ``touch <name>`` through the CLI's shell tool."""
    return f"[[tool:bash:touch {name}]] go"


def write(name: str, content: str) -> str:
    """A prompt whose model reply creates ``name`` with the CLI's file-writing tool."""
    return f"[[tool:write:{name}:{content}]] go"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path
