"""What an MCP server attached to a session is: :class:`MCPServer`, and its record without secrets."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import BackendFailed

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class MCPServer(BaseModel):
    """An MCP server for a session: stdio when ``command`` is set, streamable HTTP when ``url`` is.

    With ``url`` set, ``command``/``args``/``env`` are ignored (as in caw 0.1.9). ``env`` and
    ``headers`` values are secrets: they reach the CLI's config, never a trajectory or a log.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        # It becomes part of every tool name (claude mcp__NAME__tool, codex namespace
        # mcp__NAME, opencode NAME_tool) and a config key in TOML and JSON.
        if not NAME_RE.fullmatch(value):
            raise ValueError(
                f"MCP server name {value!r} must be 1-64 letters, digits, '_' or '-',"
                " starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _transport(self) -> MCPServer:
        if self.url is None and not self.command:
            raise ValueError(f"MCP server {self.name!r} needs a command (stdio) or a url (HTTP)")
        if self.url is not None and not re.match(r"^https?://", self.url):
            raise ValueError(f"MCP server {self.name!r}: url must be http:// or https://")
        return self

    @property
    def transport(self) -> str:
        return "http" if self.url is not None else "stdio"

    def record(self) -> dict[str, Any]:
        """What a trajectory keeps: names of env variables and headers, never their values."""
        if self.url is not None:
            return {
                "name": self.name,
                "transport": "http",
                "url": self.url,
                "headers": sorted(self.headers),
            }
        return {
            "name": self.name,
            "transport": "stdio",
            "command": self.command,
            "args": list(self.args),
            "env": sorted(self.env),
        }


def check_unique(servers: list[MCPServer]) -> None:
    seen: set[str] = set()
    for server in servers:
        if server.name in seen:
            raise ValueError(f"two MCP servers are named {server.name!r}: names must be unique")
        seen.add(server.name)


class MCPServerFailed(BackendFailed):
    """An MCP server of the session cannot start; the message names it."""


def check_startable(servers: list[MCPServer], env: Mapping[str, str], cwd: str) -> None:
    """Refuse, by name, a stdio server whose command is not there (before any CLI starts, so
    the error is caw's, the same for every CLI, rather than a tool the model never sees)."""
    for server in servers:
        if server.command is None or server.url is not None:
            continue
        command = server.command
        if os.sep in command:
            path = command if os.path.isabs(command) else os.path.join(cwd, command)
            found = os.path.isfile(path) and os.access(path, os.X_OK)
        else:
            found = shutil.which(command, path=env.get("PATH")) is not None
        if not found:
            raise MCPServerFailed(
                f"MCP server {server.name!r} cannot start: its command {command!r} was not found"
                " or is not executable"
            )
