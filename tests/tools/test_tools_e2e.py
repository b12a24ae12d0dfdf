"""Tools through each real CLI (offline, scripted model): MCP servers and Python tools.

Per provider: a stdio and an HTTP MCP server are called and their answers reach the model;
an ``@tool`` function, a ToolKit whose state carries from one call to the next, and a tool
that raises (the model hears the error, the session goes on); the tool server refuses a
caller without the session's token and is gone with the session; a resumed session in a new
process calls the same Python tool by the same name. claude runs with its tool search (MCP
tools deferred behind ``ToolSearch``) and, once, without.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from caw import AsyncAgent, MCPServer
from caw.tools import MCPServerFailed

from .conftest import processes_with, stdio_lookup
from .toolbox import Counter, add, call, explode

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("search", ["on", "off"])
async def test_mcp_servers_stdio_and_http(provider, search, cli_env, work, http_lookup, scripted):
    if search == "off" and provider != "claude_code":
        pytest.skip("tool search is claude's")
    extra = {"ENABLE_TOOL_SEARCH": "false"} if search == "off" else {}
    env = cli_env(provider, extra=extra)
    # Another session of the same environment (a shared app-server or serve) stays live
    # throughout: the stdio server must still end with its own session.
    other = await AsyncAgent(provider, cwd=work, env=env).start_session()
    agent = AsyncAgent(provider, cwd=work, env=env)
    marker = f"caw-test-{uuid.uuid4()}"
    agent.add_mcp_server(stdio_lookup(marker))
    agent.add_mcp_server(http_lookup)
    session = await agent.start_session()
    try:
        turn = await session.send(call("pstdio", "lookup", '{"key": "alpha"}'))
        assert turn.result == "Tool said: env-ok-stdio-value-of-alpha", turn.output
        # The same name for every provider (opencode's own is pstdio_lookup).
        assert turn.output[-2].type == "tool_use" and turn.output[-2].name == "mcp__pstdio__lookup"
        turn = await session.send(call("phttp", "lookup", '{"key": "beta"}'))
        assert turn.result == "Tool said: http-value-of-beta", turn.output
        assert processes_with(marker)  # the stdio server runs while the session does
    finally:
        trajectory = await session.end()
        try:
            await gone(marker)  # and not after, though the other session goes on
        finally:
            await other.end()
    recorded = json.dumps(trajectory.mcp_servers)
    assert [s["name"] for s in trajectory.mcp_servers] == ["pstdio", "phttp"]
    assert "LOOKUP_PREFIX" in recorded and "env-ok-" not in recorded
    assert "X-Test-Secret" in recorded and "hidden-header-value" not in recorded


async def test_python_tools_state_errors_token_and_resume(
    provider, cli_env, work, tmp_path, scripted
):
    env, data = cli_env(provider), tmp_path / "data"
    agent = AsyncAgent(provider, cwd=work, env=env, data_dir=data, stateless_tools=[add, explode])
    agent.add_tool_server(Counter())
    session = await agent.start_session()
    try:
        turn = await session.send(call("tools", "add", '{"a": 2, "b": 40}'))
        assert turn.result == "Tool said: 42", turn.output
        await session.send(call("counter", "bump", '{"by": 2}'))
        turn = await session.send(call("counter", "bump", '{"by": 3}'))
        assert turn.result == "Tool said: count is 5", turn.output  # state kept between calls

        turn = await session.send(call("tools", "explode", '{"reason": "testing"}'))
        assert "RuntimeError: exploded because testing" in turn.result, turn.output
        [used] = [b for b in turn.output if b.type == "tool_use" and "explode" in b.name]
        assert used.is_error
        turn = await session.send("Repeat after me: still here")  # the session goes on
        assert turn.result == "still here"

        [tools_url] = [s.url for s in session.options.mcp_servers if s.name == "counter"]
        assert tools_url is not None and tools_url.startswith("http://127.0.0.1:")
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        async with httpx.AsyncClient(timeout=10) as client:  # the server runs on this loop
            for headers in ({}, {"Authorization": "Bearer not-the-token"}):
                answer = await client.post(tools_url, json=request, headers=headers)
                assert answer.status_code == 401
        handle = session.resume_handle
    finally:
        trajectory = await session.end()
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(httpx.TransportError):  # its port is closed with the session
            await client.post(tools_url, json=request)
    assert {"name": "counter", "transport": "python", "display_name": "A counter",
            "tools": ["bump", "current"]} in trajectory.mcp_servers  # fmt: skip
    assert "Bearer" not in json.dumps(trajectory.mcp_servers)

    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.tools.resume_child", provider, str(data), str(work), handle,
        env={**env, "PYTHONPATH": str(ROOT), "PATH": env.get("PATH", os.defpath)},
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), 240)
    assert child.returncode == 0, err.decode()[-3000:]
    assert out.decode().strip().splitlines()[-1] == "Tool said: count is 5", out


async def gone(marker: str, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while processes_with(marker):
        assert asyncio.get_running_loop().time() < deadline, (
            "the stdio MCP server outlived its session"
        )
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("mode", ["codex-exec", "opencode-run"])
async def test_per_turn_modes_get_the_tools_too(mode, cli_env, work, scripted):
    """codex exec and opencode run (the fallbacks when no server mode can start)."""
    provider, _, name = mode.partition("-")
    variable = "CAW_CODEX_MODE" if provider == "codex" else "CAW_OPENCODE_MODE"
    marker = f"caw-test-{uuid.uuid4()}"
    agent = AsyncAgent(
        provider, cwd=work, env=cli_env(provider, extra={variable: name}),
        stateless_tools=[add], mcp_servers=[stdio_lookup(marker)],
    )  # fmt: skip
    session = await agent.start_session()
    try:
        turn = await session.send(call("tools", "add", '{"a": 1, "b": 2}'))
        assert turn.result == "Tool said: 3", turn.output
        turn = await session.send(call("pstdio", "lookup", '{"key": "gamma"}'))
        assert turn.result == "Tool said: env-ok-stdio-value-of-gamma", turn.output
    finally:
        await session.end()
    await gone(marker)


@pytest.mark.parametrize("how", ["missing", "dies", "unreachable"])
async def test_mcp_server_that_cannot_start_is_named(how, cli_env, work, scripted):
    """Refused when the session starts, by name, before any CLI (the same for all three;
    claude and opencode would leave such a server out silently, codex names it)."""
    provider = "claude_code"
    broken = {
        "missing": MCPServer(name="broken", command=str(work / "no-such-server")),
        "dies": MCPServer(
            name="broken", command=sys.executable, args=["-c", "raise SystemExit(3)"]
        ),
        "unreachable": MCPServer(name="broken", url="http://127.0.0.1:9/mcp"),
    }[how]
    agent = AsyncAgent(provider, cwd=work, env=cli_env(provider), mcp_servers=[broken])
    with pytest.raises(MCPServerFailed, match="'broken' cannot start"):
        await agent.start_session()


@pytest.mark.parametrize(
    ("example", "expected"), [("tools.py", "'name': 'user_db'"), ("subagent.py", "total tokens")]
)
async def test_the_examples_run_unchanged(provider, example, expected, cli_env, work, scripted):
    """examples/ (written from caw 0.1.9's guides) against each CLI."""
    env = cli_env(provider)
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "examples" / example), provider,
        env={**env, "PYTHONPATH": str(ROOT)}, cwd=work,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), 240)
    assert child.returncode == 0, err.decode()[-3000:]
    assert expected in out.decode(), out
