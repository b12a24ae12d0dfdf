"""Test helpers shipped with caw: a scripted model server and hermetic CLI environments.

    from caw.testing import ScriptedModelServer, cli_environment

    with ScriptedModelServer() as server:
        env = cli_environment("claude_code", server.base_url, tmp_path)
        subprocess.run(["claude", "-p", "My deploy target is staging-eu."], env=env, ...)

pytest users can load the fixtures with ``pytest_plugins = ["caw.testing.fixtures"]``.
See caw/testing/README.md for what is known about each CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .environments import PROVIDER_CLI, backends_bin_dir, cli_environment, cli_path
    from .model_server import RecordedRequest, ScriptedModelServer
    from .script import Reply, ToolCall

# Imported lazily, so `python -m caw.testing.model_server` runs without a
# "found in sys.modules" warning.
_EXPORTS = {
    "ScriptedModelServer": "model_server",
    "RecordedRequest": "model_server",
    "Reply": "script",
    "ToolCall": "script",
    "cli_environment": "environments",
    "backends_bin_dir": "environments",
    "cli_path": "environments",
    "PROVIDER_CLI": "environments",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
