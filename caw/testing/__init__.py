"""Test helpers shipped with caw: a scripted model server and hermetic CLI environments.

    from caw.testing import ScriptedModelServer, cli_environment

    with ScriptedModelServer() as server:
        env = cli_environment("claude_code", server.base_url, tmp_path)
        subprocess.run(["claude", "-p", "My deploy target is staging-eu."], env=env, ...)

pytest users can load the fixtures with ``pytest_plugins = ["caw.testing.fixtures"]``.
See caw/testing/README.md for what is known about each CLI.
"""

from __future__ import annotations

from .environments import PROVIDER_CLI, backends_bin_dir, cli_environment, cli_path
from .model_server import RecordedRequest, ScriptedModelServer
from .script import Reply, ToolCall

__all__ = [
    "PROVIDER_CLI",
    "RecordedRequest",
    "Reply",
    "ScriptedModelServer",
    "ToolCall",
    "backends_bin_dir",
    "cli_environment",
    "cli_path",
]
