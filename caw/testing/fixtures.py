"""pytest fixtures for testing against the scripted model server.

Load them from a conftest.py with ``pytest_plugins = ["caw.testing.fixtures"]``.

* ``model_server``: one :class:`ScriptedModelServer` for the whole session.
* ``scripted``: the same server after ``reset()`` (knobs and request log
  cleared): use this one in tests.
* ``cli_env``: a factory ``cli_env(provider, **kwargs) -> dict`` giving a
  hermetic environment for the provider's CLI under the test's ``tmp_path``
  (the same home for the same provider within one test, so resume works).
* ``require_cli``: a factory ``require_cli(provider) -> str`` returning the
  CLI's executable, skipping the test when it is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .environments import cli_environment, cli_path
from .model_server import ScriptedModelServer


@pytest.fixture(scope="session")
def model_server() -> Iterator[ScriptedModelServer]:
    server = ScriptedModelServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scripted(model_server: ScriptedModelServer) -> Iterator[ScriptedModelServer]:
    model_server.reset()
    yield model_server
    model_server.reset()


@pytest.fixture
def cli_env(model_server: ScriptedModelServer, tmp_path: Path) -> Callable[..., dict[str, str]]:
    def make(provider: str, **kwargs: Any) -> dict[str, str]:
        base_url = kwargs.pop("base_url", model_server.base_url)
        return cli_environment(provider, base_url, tmp_path, **kwargs)

    return make


@pytest.fixture
def require_cli() -> Callable[[str], str]:
    def find(provider: str) -> str:
        path = cli_path(provider)
        if path is None:
            pytest.skip(f"the {provider} CLI is not installed (npm ci in tests/backends)")
        return path

    return find
