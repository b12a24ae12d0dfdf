"""The per-CLI configuration of a session's MCP servers (no CLI runs here)."""

from __future__ import annotations

import json

import pytest

from caw import MCPServer, ToolGroup
from caw.tools.groups import ToolGroupUnsupported, check, claude_tools, opencode_denials
from caw.tools.wiring import (
    claude_config,
    codex_config,
    codex_exec_overrides,
    mcp_tool_name,
    opencode_env,
)

STDIO = MCPServer(name="db", command="db-server", args=["--ro"], env={"DB_PASSWORD": "s3cret"})
HTTP = MCPServer(
    name="remote", url="http://127.0.0.1:9/mcp",
    headers={"Authorization": "Bearer t0ken", "X-Api-Key": "k3y"},
)  # fmt: skip


def test_shapes_per_cli():
    assert claude_config([STDIO, HTTP])["mcpServers"] == {
        "db": {"command": "db-server", "args": ["--ro"], "env": {"DB_PASSWORD": "s3cret"}},
        "remote": {"type": "http", "url": HTTP.url, "headers": HTTP.headers},
    }
    assert codex_config([STDIO, HTTP]) == {
        "db": {"command": "db-server", "args": ["--ro"], "env": STDIO.env, "required": True},
        "remote": {"url": HTTP.url, "http_headers": HTTP.headers, "required": True},
    }
    config = json.loads(
        opencode_env({"OPENCODE_CONFIG_CONTENT": '{"x": 1}'}, [STDIO, HTTP])[
            "OPENCODE_CONFIG_CONTENT"
        ]
    )
    assert config == {
        "x": 1,
        "mcp": {
            "db": {"type": "local", "command": ["db-server", "--ro"], "enabled": True, "environment": STDIO.env},
            "remote": {"type": "remote", "url": HTTP.url, "enabled": True, "headers": HTTP.headers},
        },
    }  # fmt: skip


def test_codex_exec_keeps_secrets_off_argv():
    flags, env = codex_exec_overrides([STDIO, HTTP])
    argv = " ".join(flags)
    for secret in ("s3cret", "t0ken", "k3y"):
        assert secret not in argv
        assert secret in env.values()
    assert 'mcp_servers.db.env_vars=["DB_PASSWORD"]' in flags
    assert any(f.startswith("mcp_servers.remote.bearer_token_env_var=") for f in flags)
    assert any(f.startswith('mcp_servers.remote.env_http_headers={"X-Api-Key" = ') for f in flags)


def test_the_record_has_names_not_values():
    recorded = json.dumps([STDIO.record(), HTTP.record()])
    assert "DB_PASSWORD" in recorded and "X-Api-Key" in recorded
    assert not any(secret in recorded for secret in ("s3cret", "t0ken", "k3y"))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"name": "a b", "command": "x"}, "letters, digits"),
        ({"name": "a"}, "needs a command"),
        ({"name": "a", "url": "file:///x"}, "http:// or https://"),
    ],
)
def test_bad_servers_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        MCPServer(**bad)


def test_opencode_names_become_mcp_names():
    assert mcp_tool_name("my_db_lookup", ["my", "my_db"]) == "mcp__my_db__lookup"
    assert mcp_tool_name("bash", ["my_db"]) == "bash"


def test_groups():
    assert ToolGroup.ALL - ToolGroup.WRITER == ToolGroup.READER | ToolGroup.EXEC | ToolGroup.WEB | (
        ToolGroup.PARALLEL | ToolGroup.INTERACTION
    )
    assert ToolGroup.NO_INTERACTION == ToolGroup.ALL - ToolGroup.INTERACTION
    reader = claude_tools(ToolGroup.READER).split(",")
    assert "Read" in reader and "Bash" not in reader and "Write" not in reader
    denied = {rule["permission"] for rule in opencode_denials(ToolGroup.READER)}
    assert {"edit", "bash", "webfetch"} <= denied and "read" not in denied
    check("claude_code", ToolGroup.READER)
    check("codex", ToolGroup.ALL - ToolGroup.WRITER)
    with pytest.raises(ToolGroupUnsupported):
        check("codex", ToolGroup.READER | ToolGroup.WRITER)
