"""Daemons for the server tests: spawned through caw.client, checked for leaks when the test ends."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from caw.client import CawClient
from caw_server import logs
from caw_server.app import CawServer
from caw_server.options import Options

from .inprocess import CaptureWriter, Daemon

REPO = Path(__file__).resolve().parents[2]
BACKENDS_BIN = REPO / "tests" / "backends" / "node_modules" / ".bin"


def plain_env(home: Path) -> dict[str, str]:
    """An environment for daemons that talk to no model: private HOME, the pinned CLIs on PATH."""
    return {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CACHE_HOME": str(home / ".cache"),
            "PATH": f"{BACKENDS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip


def secrets_in(client: CawClient) -> set[str]:
    """Every handle (and resume key that differs from its session id) the daemon handed out."""
    found: set[str] = set()
    for answer in client.answers or []:
        result = answer.get("result")
        handle = result.get("resumeHandle") if isinstance(result, dict) else None
        if handle:
            found.add(handle)
            key = json.loads(handle)
            if key["resume_key"] != key["session_id"]:
                found.add(key["resume_key"])
    return found


def assert_no_secrets_logged(client: CawClient) -> None:
    secrets = secrets_in(client)
    logged = list(client.stderr_lines) + [
        params.get("message", "")
        for method, params in client.notifications
        if method == "window/logMessage"
    ]
    for secret in secrets:
        leaks = [line for line in logged if secret in line]
        assert not leaks, f"a resume handle or key reached the logs: {leaks[:3]}"


@pytest_asyncio.fixture
async def spawn_daemon(tmp_path):
    """spawn_daemon(*args, env=...) -> an initialized CawClient; all are closed and checked afterwards."""
    clients: list[CawClient] = []

    async def spawn(
        *args: str, env: dict[str, str] | None = None, initialize: bool | dict = True
    ) -> CawClient:
        client = await CawClient.spawn(*args, env=env or plain_env(tmp_path), cwd=str(tmp_path))
        client.answers = []
        clients.append(client)
        if initialize is not False:
            await client.initialize(initialize if isinstance(initialize, dict) else None)
        return client

    yield spawn
    for client in clients:
        await client.aclose(timeout=60)
    for client in clients:
        assert_no_secrets_logged(client)


@pytest_asyncio.fixture
async def daemon() -> AsyncIterator[Daemon]:
    """A CawServer in this process (no data dir, no backend), fed frames directly."""
    server = CawServer(Options(data_dir=None))
    out = CaptureWriter()
    server.protocol.open_output(out)
    try:
        yield Daemon(server, out)
    finally:
        logs.CLIENT_HANDLER.sender = None  # the daemon attaches it at its first message
        await server.registry.end_all()
