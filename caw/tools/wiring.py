"""A session's MCP servers in each CLI's own configuration shape.

- claude: ``--mcp-config FILE`` (``{"mcpServers": {...}}``) with ``--strict-mcp-config``, so only
  the session's servers load; the file is private (0600): it holds header and env values.
- codex: ``mcp_servers`` in ``thread/start``'s config (app-server) or ``-c`` overrides (exec);
  ``required = true`` makes a server that cannot start fail the start, by name.
- opencode: the config key ``mcp`` (``local`` / ``remote`` servers), given through
  ``OPENCODE_CONFIG_CONTENT``; the session's servers then make its environment, so its serve
  is its own and no other session sees them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .servers import MCPServer

TOKEN_ENV_PREFIX = "CAW_MCP_TOKEN_"


def claude_config(servers: list[MCPServer]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for s in servers:
        if s.url is not None:
            entries[s.name] = {
                "type": "http",
                "url": s.url,
                **({"headers": dict(s.headers)} if s.headers else {}),
            }
        else:
            entries[s.name] = {"command": s.command, "args": list(s.args), "env": dict(s.env)}
    return {"mcpServers": entries}


def codex_config(servers: list[MCPServer]) -> dict[str, Any]:
    """``mcp_servers`` for ``thread/start``'s config (it travels on stdin: values may be secret)."""
    entries: dict[str, Any] = {}
    for s in servers:
        entry: dict[str, Any]
        if s.url is not None:
            entry = {"url": s.url}
            if s.headers:
                entry["http_headers"] = dict(s.headers)
        else:
            entry = {"command": s.command, "args": list(s.args)}
            if s.env:
                entry["env"] = dict(s.env)
        entries[s.name] = {**entry, "required": True}
    return entries


def codex_exec_overrides(servers: list[MCPServer]) -> tuple[list[str], dict[str, str]]:
    """``-c`` flags for ``codex exec`` and the environment they read secrets from.

    argv is readable by every local user, so no header or env value goes there: a bearer
    header becomes ``bearer_token_env_var``, other headers ``env_http_headers``, and a stdio
    server's env values ``env_vars`` (names forwarded from codex's own environment)."""
    flags: list[str] = []
    env: dict[str, str] = {}

    def put(key: str, value: Any) -> None:
        flags.extend(["-c", f"mcp_servers.{key}={json.dumps(value)}"])

    for index, s in enumerate(servers):
        prefix = f"{TOKEN_ENV_PREFIX}{index}_"
        if s.url is not None:
            put(f"{s.name}.url", s.url)
            plain: dict[str, str] = {}
            for header, value in s.headers.items():
                variable = f"{prefix}{len(env)}"
                env[variable] = value
                if header.lower() == "authorization" and value.startswith("Bearer "):
                    env[variable] = value[len("Bearer ") :]
                    put(f"{s.name}.bearer_token_env_var", variable)
                else:
                    plain[header] = variable
            if plain:  # a TOML inline table (JSON objects are not TOML)
                table = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in plain.items())
                flags += ["-c", f"mcp_servers.{s.name}.env_http_headers={{{table}}}"]
        else:
            put(f"{s.name}.command", s.command)
            put(f"{s.name}.args", list(s.args))
            if s.env:
                env.update(s.env)
                put(f"{s.name}.env_vars", sorted(s.env))
        put(f"{s.name}.required", True)
    return flags, env


def opencode_mcp(servers: list[MCPServer]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for s in servers:
        if s.url is not None:
            entry: dict[str, Any] = {"type": "remote", "url": s.url, "enabled": True}
            if s.headers:
                entry["headers"] = dict(s.headers)
        else:
            entry = {"type": "local", "command": [s.command, *s.args], "enabled": True}
            if s.env:
                entry["environment"] = dict(s.env)
        entries[s.name] = entry
    return entries


def edit_opencode_config(
    env: Mapping[str, str], edit: Callable[[dict[str, Any]], None]
) -> dict[str, str]:
    """``env`` with ``OPENCODE_CONFIG_CONTENT`` (an unreadable one counts as empty) changed by ``edit``."""
    out = dict(env)
    try:
        config = json.loads(out.get("OPENCODE_CONFIG_CONTENT") or "{}")
    except ValueError:
        config = {}
    if not isinstance(config, dict):
        config = {}
    edit(config)
    out["OPENCODE_CONFIG_CONTENT"] = json.dumps(config)
    return out


def opencode_env(env: Mapping[str, str], servers: list[MCPServer]) -> dict[str, str]:
    """``env`` with the servers merged into ``OPENCODE_CONFIG_CONTENT``'s ``mcp``."""
    if not servers:
        return dict(env)

    def add_servers(config: dict[str, Any]) -> None:
        config["mcp"] = {**(config.get("mcp") or {}), **opencode_mcp(servers)}

    return edit_opencode_config(env, add_servers)


def mcp_tool_name(name: str, servers: Iterable[str]) -> str:
    """opencode's ``<server>_<tool>`` as ``mcp__<server>__<tool>``, the name claude and codex
    give an MCP tool call, so that a tool call names its server and tool the same way for
    every provider (the longest server name that prefixes ``name`` wins)."""
    for server in sorted(servers, key=len, reverse=True):
        if name.startswith(f"{server}_") and len(name) > len(server) + 1:
            return f"mcp__{server}__{name[len(server) + 1 :]}"
    return name
