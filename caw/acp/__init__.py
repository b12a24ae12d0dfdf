"""``caw acp``: the Agent Client Protocol face of caw's session core.

An editor that speaks ACP (Zed, agent-shell, CodeCompanion, avante.nvim, ...) runs
``caw acp`` and talks newline-delimited JSON-RPC on its stdio. The protocol layer is
the official SDK (``agent-client-protocol``, import ``acp``); this package only maps
its methods onto :class:`caw.AsyncAgent` / :class:`caw.AsyncSession`, the store and the
permission broker, the same core ``caw-server`` drives. docs/acp.md describes it.

| module | job |
| --- | --- |
| ``agent.py`` | the ACP methods -> the session core |
| ``updates.py`` | caw events -> ACP ``session/update`` payloads |
| ``history.py`` | a stored trajectory -> the updates ``session/load`` replays |
| ``config.py`` | the ``configOptions`` (provider, model, permission mode) |
| ``prompt.py`` | ACP content blocks -> the message sent to the backend |
| ``mcp.py`` | ACP ``mcpServers`` -> caw's :class:`~caw.tools.MCPServer` s |
| ``transport.py`` | the stdio framing: the SDK's, plus the parse errors it drops |
| ``serve.py`` | the process: logging on stderr, serving, ending every backend |
"""

from __future__ import annotations

from .serve import ServeOptions, serve

__all__ = ["ServeOptions", "serve"]
