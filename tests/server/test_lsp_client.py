"""An off-the-shelf LSP test client (pytest-lsp's) hosts the daemon unchanged over stdio.

pytest-lsp drives the daemon as an editor would, with the capabilities that VS Code and
Neovim (the two editors caw ships clients for) really send, and checks every message the
daemon sends back against those capabilities; a mismatch is an ``LspSpecificationWarning``,
which fails the test here.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .conftest import plain_env

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")


@pytest_asyncio.fixture
async def client(tmp_path) -> AsyncIterator[LanguageClient]:
    """pytest-lsp's client with a daemon of its own (a private HOME and data dir per test)."""
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "caw_server", "--data-dir", str(tmp_path / "data")],
        server_env=plain_env(tmp_path),
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    yield client
    await client.stop()


@pytest.mark.parametrize("editor", ["visual-studio-code", "neovim"])
async def test_an_lsp_test_client_hosts_the_daemon(client: LanguageClient, editor: str) -> None:
    result = await asyncio.wait_for(
        client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(editor),
                initialization_options={"logLevel": "debug"},
            )
        ),
        60,
    )
    assert result.server_info is not None and result.server_info.name == "caw-server"
    experimental = result.capabilities.experimental
    assert experimental is not None and experimental["caw"]["protocolVersion"] == "1.2"

    listed = await asyncio.wait_for(client.protocol.send_request_async("session/list", {}), 30)
    assert listed.sessions == []
    assert any("session/list" in m.message for m in client.log_messages)

    unknown = client.protocol.send_request_async("no/such", {})
    with pytest.raises(JsonRpcMethodNotFound):
        await asyncio.wait_for(unknown, 30)

    await asyncio.wait_for(client.shutdown_session(), 30)
    server = client._server  # pygls keeps the process private; its exit code is the point here
    assert server is not None and server.returncode == 0
