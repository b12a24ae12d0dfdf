"""The tool tests' MCP servers: the stdio one (a command) and one HTTP one for the module."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from caw import MCPServer

LOOKUP = Path(__file__).with_name("lookup_server.py")


def stdio_lookup(marker: str, name: str = "pstdio") -> MCPServer:
    """The lookup server on stdio; ``marker`` (on its argv) finds its process."""
    return MCPServer(
        name=name,
        command=sys.executable,
        args=[str(LOOKUP), "stdio", marker],
        env={"LOOKUP_PREFIX": "env-ok-"},
    )


def processes_with(marker: str) -> list[int]:
    """The live processes whose argv holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def http_lookup() -> Iterator[MCPServer]:
    """The lookup server over streamable HTTP, for the whole module."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(LOOKUP), "http", str(port)])
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:  # up once it accepts a connection
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the HTTP lookup server did not start") from None
                time.sleep(0.1)
        yield MCPServer(name="phttp", url=url, headers={"X-Test-Secret": "hidden-header-value"})
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path
