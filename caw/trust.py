"""Workspace trust: whether a folder's own agent configuration may run (issue 21, finding 1).

A freshly cloned repository can carry configuration that the CLIs run as code as soon as
they start in it: a claude ``SessionStart`` hook in ``.claude/settings.json``, an opencode
plugin in ``.opencode/plugin/``, MCP servers in ``.mcp.json`` or ``opencode.json``. caw
decides before any CLI starts: a folder that carries such files is used only when the caller
said it trusts it (``AsyncAgent(trusted=True)``, the daemon's ``trusted`` param); with
``trusted=False`` the CLI starts with the project's configuration switched off where the CLI
allows it, and caw refuses where it does not (opencode's plugin folders, which neither
``OPENCODE_DISABLE_PROJECT_CONFIG`` nor ``--pure`` stop in opencode 1.18.33). A ``trusted=True``
is remembered in the user's trust store (caw.trust_store, ``caw trust``) with a digest of the
configuration; ``trusted=None`` then uses the folder until that configuration changes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from . import trust_store
from .errors import CawError

log = logging.getLogger("caw.trust")

# Relative paths whose presence makes a folder "agent-configured".
AGENT_CONFIG = (
    ".claude/settings.json",  # hooks (SessionStart runs at start), permissions, env
    ".claude/settings.local.json",
    ".claude/hooks",
    ".mcp.json",  # claude's project MCP servers (commands)
    "opencode.json",  # opencode's project config: MCP servers, commands
    "opencode.jsonc",
    ".opencode",  # opencode's project folder: plugins (loaded at start), config, commands
    ".codex",  # codex's project config (codex gates it behind its own trust list)
)
# What no CLI flag switches off: refused unless trusted.
UNSTOPPABLE = (".opencode/plugin", ".opencode/plugins")


class UntrustedWorkspace(CawError, PermissionError):
    """The folder carries agent configuration that would run as code, and nobody said it is
    trusted. ``files`` names what was found (relative to ``cwd``)."""

    kind = "untrustedWorkspace"

    def __init__(self, message: str, *, cwd: str, files: list[str]):
        super().__init__(message)
        self.cwd = cwd
        self.files = files


def agent_config_files(cwd: str) -> list[str]:
    """The agent configuration present in ``cwd`` (relative paths, in a fixed order)."""
    return [name for name in AGENT_CONFIG if os.path.lexists(os.path.join(cwd, name))]


def _is_home(cwd: str) -> bool:
    return os.path.realpath(cwd) == os.path.realpath(os.path.expanduser("~"))


def check_workspace(cwd: str, trusted: bool | None, provider: str) -> None:
    """Raise UntrustedWorkspace unless ``cwd`` may be used as ``trusted`` says; a
    ``trusted=True`` is remembered, a ``trusted=None`` asks the trust store."""
    if _is_home(cwd):  # in HOME, .claude/ and .codex/ are the user's own
        return
    found = agent_config_files(cwd)
    if trusted is True:
        if found:
            remember(cwd, found)
        return
    if not found:
        return
    if trusted is None:
        if trust_store.is_trusted(cwd, found):
            return
        raise UntrustedWorkspace(
            f"{cwd} carries agent configuration that would run as code when the CLI starts"
            f" ({', '.join(found)}): pass trusted=True to use it (or run `caw trust {cwd}`),"
            " or trusted=False to start with the project's configuration switched off",
            cwd=cwd,
            files=found,
        )
    plugins = [p for p in UNSTOPPABLE if os.path.lexists(os.path.join(cwd, p))]
    if provider == "opencode" and plugins:
        raise UntrustedWorkspace(
            f"{cwd} carries opencode plugins ({', '.join(plugins)}), which opencode loads at"
            " start and cannot be told not to: trust the folder (trusted=True) or remove them",
            cwd=cwd,
            files=plugins,
        )


def remember(cwd: str, found: list[str]) -> None:
    """Record ``cwd`` as trusted; a store that cannot be written costs a warning, not the
    session (the caller said it trusts the folder)."""
    try:
        trust_store.trust(cwd, found)
    except OSError as exc:
        log.warning("could not record %s as trusted: %s", cwd, exc)


def untrusted_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a CLI started with the project's configuration off (opencode reads
    no project ``opencode.json``; claude's part is its flags, see claude_code.options)."""
    return {**env, "OPENCODE_DISABLE_PROJECT_CONFIG": "1"}
