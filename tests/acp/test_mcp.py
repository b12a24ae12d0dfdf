"""MCP servers from ``session/new`` reach the model, for every provider (caw.tools attaches
them), and ``session/load`` in a new ``caw acp`` attaches them again."""

from __future__ import annotations

import sys

import pytest
from acp import schema

from caw.acp.mcp import AcpMcpServers
from caw.tools import MCPServer
from tests.tools.conftest import LOOKUP
from tests.tools.conftest import http_lookup as http_lookup  # the tool tests' HTTP server

from .conftest import Editor, caw_acp, prompt, text_block

pytestmark = pytest.mark.e2e


def stdio_server() -> schema.McpServerStdio:
    return schema.McpServerStdio(
        name="pstdio",
        command=sys.executable,
        args=[str(LOOKUP)],
        env=[schema.EnvVariable(name="LOOKUP_PREFIX", value="env-ok-")],
    )


def http_server(lookup: MCPServer) -> schema.HttpMcpServer:
    assert lookup.url is not None
    headers = [schema.HttpHeader(name=k, value=v) for k, v in lookup.headers.items()]
    return schema.HttpMcpServer(type="http", name=lookup.name, url=lookup.url, headers=headers)


def call(server: str, tool: str, arguments: str) -> str:
    return f"[[mcp:{server}:{tool}:{arguments}]] go"


async def test_mcp_servers_from_session_new_are_called(
    provider, cli_env, scripted, work, tmp_path, http_lookup
):
    env, log = cli_env(provider), tmp_path / "caw-acp.log"
    flags = (
        "--provider",
        provider,
        "--data-dir",
        str(tmp_path / "data"),
        "--permission-mode",
        "bypass",
    )
    servers: AcpMcpServers = [
        stdio_server(), http_server(http_lookup),
    ]  # fmt: skip
    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, proc):
        sid = (await conn.new_session(cwd=str(work), mcp_servers=servers)).session_id
        assert (
            await prompt(conn, sid, text_block(call("pstdio", "lookup", '{"key": "alpha"}')))
            == "end_turn"
        )
        assert editor.text() == "Tool said: env-ok-stdio-value-of-alpha"
        calls = editor.of("tool_call")
        assert calls and "lookup" in calls[-1].title
        mark = len(editor.updates)
        assert (
            await prompt(conn, sid, text_block(call("phttp", "lookup", '{"key": "beta"}')))
            == "end_turn"
        )
        assert editor.text(since=mark) == "Tool said: http-value-of-beta"
        proc.kill()
        await proc.wait()

    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, _proc):
        await conn.load_session(cwd=str(work), session_id=sid, mcp_servers=servers)
        mark = len(editor.updates)
        assert (
            await prompt(conn, sid, text_block(call("pstdio", "lookup", '{"key": "gamma"}')))
            == "end_turn"
        )
        assert editor.text(since=mark) == "Tool said: env-ok-stdio-value-of-gamma"
    assert "hidden-header-value" not in log.read_text()
