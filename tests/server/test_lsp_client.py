"""An off-the-shelf LSP client (pygls') hosts the daemon unchanged: lifecycle, custom requests, notifications."""

from __future__ import annotations

import asyncio
import sys

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from .conftest import plain_env


async def test_pygls_language_client_hosts_the_daemon(tmp_path):
    client = LanguageClient("caw-test-client", "1.0")
    logs: list[str] = []

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params: types.LogMessageParams) -> None:
        logs.append(params.message)

    await client.start_io(
        sys.executable,
        "-m",
        "caw_server",
        "--data-dir",
        str(tmp_path / "data"),
        env=plain_env(tmp_path),
    )
    try:
        result = await asyncio.wait_for(
            client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(),
                    initialization_options={"logLevel": "debug"},
                )
            ),
            60,
        )
        assert result.server_info.name == "caw-server"
        assert result.capabilities.experimental["caw"]["protocolVersion"] == "1.0"
        client.initialized(types.InitializedParams())
        listed = await asyncio.wait_for(client.protocol.send_request_async("session/list", {}), 30)
        assert listed.sessions == []
        assert any("session/list" in line for line in logs)
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
        assert await asyncio.wait_for(client._server.wait(), 30) == 0
    finally:
        await client.stop()
