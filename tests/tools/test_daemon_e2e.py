"""Tools in caw-server, through each real CLI (offline, scripted model).

session/start takes ACP-shaped mcpServers (stdio with env, http with headers) and tool group
names; initialize advertises both; the servers are called and recorded without their env and
header values; session/resume by id re-attaches the recorded servers (values aside, so the
stdio server runs without its env); codex refuses READER before any backend starts.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from caw.client import RpcError
from tests.server.conftest import spawn_daemon as spawn_daemon  # the daemon tests' fixture

from .conftest import LOOKUP
from .toolbox import call

pytestmark = pytest.mark.e2e

TURN = 120


async def send(client: Any, sid: str, message: str, updates: list[dict[str, Any]]) -> str:
    answer = await asyncio.wait_for(client.send(sid, message, updates.append), TURN)
    return str(answer["turn"]["output"][-1].get("text", ""))


async def test_daemon_mcp_servers_groups_and_resume(
    provider, cli_env, scripted, spawn_daemon, work: Path, tmp_path: Path, http_lookup
):
    env, data = cli_env(provider), tmp_path / "data"
    client = await spawn_daemon("--data-dir", str(data), env=env, initialize=False)
    init = await client.initialize()
    tools = init["capabilities"]["experimental"]["caw"]["tools"]
    assert tools["mcpServers"] == ["stdio", "http"] and "READER" in tools["toolGroups"]

    stdio = {
        "name": "pstdio", "command": sys.executable, "args": [str(LOOKUP), "stdio"],
        "env": [{"name": "LOOKUP_PREFIX", "value": "env-ok-"}],
    }  # fmt: skip
    http = {
        "type": "http", "name": "phttp", "url": http_lookup.url,
        "headers": [{"name": "X-Test-Secret", "value": "hidden-header-value"}],
    }  # fmt: skip
    params: dict[str, Any] = {
        "provider": provider, "cwd": str(work), "permissionMode": "bypass",
        "mcpServers": [stdio, http],
    }  # fmt: skip
    if provider == "codex":
        with pytest.raises(RpcError) as refused:
            await client.start_session(**params, tools=["READER"])
        assert refused.value.kind == "invalidParams" and "ToolGroup.EXEC" in str(refused.value)
    else:
        params["tools"] = ["READER"]
    started = await client.start_session(**params)
    sid = started["sessionId"]
    updates: list[dict[str, Any]] = []
    text = await send(client, sid, call("pstdio", "lookup", '{"key": "alpha"}'), updates)
    assert text == "Tool said: env-ok-stdio-value-of-alpha"
    names = {u.get("name") for u in updates if u.get("kind") == "toolCall"}
    assert "mcp__pstdio__lookup" in names, updates  # the same for every provider
    text = await send(client, sid, call("phttp", "lookup", '{"key": "beta"}'), updates)
    assert text == "Tool said: http-value-of-beta"
    if provider != "codex":  # READER: MCP tools still run, a write and a command do not
        await send(client, sid, "[[tool:write:written.txt:hello]] go", updates)
        await send(client, sid, "[[tool:bash:touch ran.txt]] go", updates)
        assert not (work / "written.txt").exists() and not (work / "ran.txt").exists()
    trajectory = await client.end(sid)
    recorded = json.dumps(trajectory["mcpServers"])
    assert [s["name"] for s in trajectory["mcpServers"]] == ["pstdio", "phttp"]
    assert "env-ok-" not in recorded and "hidden-header-value" not in recorded

    resumed = await client.request(
        "session/resume", {"sessionId": sid, "cwd": str(work), "permissionMode": "bypass"}
    )
    assert resumed["sessionId"] == sid
    text = await send(client, sid, call("pstdio", "lookup", '{"key": "delta"}'), updates)
    assert text == "Tool said: stdio-value-of-delta"  # re-attached, its env value not kept
    await client.end(sid)
