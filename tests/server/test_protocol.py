"""The daemon's JSON-RPC surface without a model: lifecycle, framing, bad input of each kind, error codes.

Every case goes through a real ``caw-server`` process over stdio.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from caw.client import RpcError
from caw.providers import PROVIDER_NAMES
from caw_server import PROTOCOL_VERSION, wire

from .conftest import BACKENDS_BIN, plain_env

TIMEOUT = 30


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def answer_to(client, data: bytes):
    """Write raw bytes; return the next answer the client could not match (crafted ids, id null, batches)."""
    client.write_raw(data)
    return await asyncio.wait_for(client.unmatched.get(), TIMEOUT)


async def still_serving(client) -> None:
    assert isinstance(await client.list_sessions(), list)


def error_of(answer: dict) -> tuple[int, object]:
    assert "result" not in answer, answer
    return answer["error"]["code"], answer["id"]


async def test_initialize_answers_capabilities(spawn_daemon):
    client = await spawn_daemon("--no-data-dir", initialize=False)
    result = await client.initialize()
    assert result["serverInfo"]["name"] == "caw-server"
    caw = result["capabilities"]["experimental"]["caw"]
    assert caw["protocolVersion"] == PROTOCOL_VERSION
    assert [p["name"] for p in caw["providers"]] == list(PROVIDER_NAMES)
    claude = caw["providers"][0]
    if (BACKENDS_BIN / "claude").exists():  # the pinned CLIs are installed (make setup)
        # The version is the cached one: a fresh cache has none yet, the probe runs after the
        # answer (test_startup: the next daemon reports it).
        assert claude["installed"] is True
        assert claude["version"] is None or "Claude Code" in claude["version"]
    for provider in caw["providers"]:
        assert set(provider) == {"name", "installed", "version"}
    await client.shutdown()
    client.exit()
    assert await client.wait_closed() == 0


async def test_initialization_options_are_validated_and_applied(spawn_daemon, tmp_path):
    client = await spawn_daemon("--no-data-dir", initialize=False)
    with pytest.raises(RpcError) as bad:
        await client.initialize({"idleTimeout": "soon"})
    assert (
        bad.value.code == -32602
        and bad.value.data["errors"][0]["field"] == "initializationOptions.idleTimeout"
    )
    with pytest.raises(RpcError) as bad:
        await client.initialize({"provider": "gpt-cli"})
    assert bad.value.code == -32602 and "initializationOptions.provider" in bad.value.message
    await client.initialize(
        {"dataDir": str(tmp_path / "data"), "logLevel": "debug", "idleTimeout": 30}
    )
    assert (
        tmp_path / "data" / "sessions"
    ).is_dir()  # the watcher made it, so the option took effect


async def test_framing_errors_answer_parse_error_with_null_id(spawn_daemon):
    client = await spawn_daemon("--no-data-dir", "--max-frame", "4096")
    cases = {
        "not json": frame(b"{this is not json}"),
        "truncated json": frame(b'{"jsonrpc": "2.0", "id": "a", "method": "session/li'),
        "invalid utf-8": frame(b'{"jsonrpc": "2.0", "id": "a", "method": "\xff\xfe"}'),
        "empty body": b"Content-Length: 0\r\n\r\n",
        "no content-length": b"Content-Type: application/json\r\n\r\n",
        "bad content-length": b"Content-Length: twelve\r\n\r\n",
        "negative content-length": b"Content-Length: -5\r\n\r\n",
        "malformed header": b"this is not a header\r\n\r\n",
        "bare json line": b'{"jsonrpc": "2.0", "id": "a", "method": "session/list"}\r\n',
        "too deep": frame(b"[" * 100000 + b"]" * 100000),
        "oversized frame": frame(b" " * 5000),
    }
    for name, data in cases.items():
        answer = await answer_to(client, data)
        assert error_of(answer) == (-32700, None), name
        assert answer["error"]["data"]["kind"] == "parseError", name
    await still_serving(client)


def _rss_kib(pid: int | None) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


async def test_a_giant_frame_is_refused_without_allocating_it(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    answer = await answer_to(client, b"Content-Length: 999999999999\r\n\r\n")
    assert error_of(answer) == (-32700, None)
    assert "exceeds the limit" in answer["error"]["message"]
    client.write_raw(b"x" * (4 * 1024 * 1024))  # part of the announced body: skipped, not stored
    assert _rss_kib(client.pid) < 300 * 1024
    client.process.close_stdin()  # the daemon is still consuming that body; end of input ends it cleanly
    assert await client.wait_closed() == 0


async def test_invalid_requests(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    cases = [
        (b"1", None),
        (b'"a string"', None),
        (b"null", None),
        (b'{"jsonrpc": "1.0", "id": "a", "method": "session/list"}', "a"),
        (b'{"id": "a", "method": "session/list"}', "a"),
        (b'{"jsonrpc": "2.0", "id": "a", "method": 1, "params": "bar"}', "a"),
        (
            b'{"jsonrpc": "2.0", "method": 1, "params": "bar"}',
            None,
        ),  # the JSON-RPC spec's own example
        (b'{"jsonrpc": "2.0", "id": "a", "method": "session/list", "params": "bar"}', "a"),
        (b'{"jsonrpc": "2.0", "id": {"no": 1}, "method": "session/list"}', None),
        (b'{"jsonrpc": "2.0", "id": true, "method": "session/list"}', None),
        (b'{"jsonrpc": "2.0", "id": 1.5, "method": "session/list"}', None),
        (b'{"jsonrpc": "2.0", "id": "a"}', "a"),
        (
            b'{"jsonrpc": "2.0", "id": "a", "method": "initialized", "params": {}}',
            "a",
        ),  # a notification with an id
        (b'{"jsonrpc": "2.0"}', None),
    ]
    for body, answer_id in cases:
        answer = await answer_to(client, frame(body))
        assert error_of(answer) == (-32600, answer_id), body
        assert answer["error"]["data"]["kind"] == "invalidRequest"
    await still_serving(client)


async def test_unknown_methods(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    with pytest.raises(RpcError) as err:
        await client.request("session/explode", {})
    assert err.value.code == -32601 and err.value.kind == "methodNotFound"
    with pytest.raises(RpcError) as err:
        await client.request("textDocument/hover", {"garbage": True})
    assert err.value.code == -32601
    client.notify("session/nothing", {"x": 1})  # unknown notifications are dropped silently
    client.notify("$/cancelRequest", {"id": 424242})  # cancelling nothing is fine
    client.notify("$/cancelRequest", {"wrong": "shape"})
    await still_serving(client)
    assert client.unmatched.empty()


async def test_invalid_params_name_the_field(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    cases = [
        ("session/send", {"message": "hi"}, "sessionId"),
        ("session/send", {"sessionId": "s", "message": 5}, "message"),
        ("session/send", {"sessionId": "s", "message": "   "}, "message"),
        ("session/send", {"sessionId": ["s"], "message": "hi"}, "sessionId"),
        (
            "session/send",
            {"sessionId": "s", "message": "hi", "workDoneToken": {"a": 1}},
            "workDoneToken",
        ),
        ("session/send", {"sessionId": "s", "message": "hi", "exclusive": "yes"}, "exclusive"),
        ("session/send", ["s", "hi"], "params"),
        ("session/start", {"provider": "gpt-cli"}, "provider"),
        ("session/start", {"metadata": "x"}, "metadata"),
        ("session/start", {"cwd": "/no/such/dir"}, "cwd"),
        ("session/resume", {}, "params"),
        ("session/resume", {"handle": 42}, "handle"),
        ("session/cancel", {"sessionId": None}, "sessionId"),
        ("session/end", None, "sessionId"),
        ("session/list", {"cwd": 3}, "cwd"),
        ("initialize", {"capabilities": {}, "processId": "me"}, "processId"),
    ]
    for method, params, field in cases:
        with pytest.raises(RpcError) as err:
            await client.request(method, params, timeout=TIMEOUT)
        assert err.value.code == -32602, (method, params, err.value)
        assert field in err.value.message, (method, params, err.value.message)
        if method != "initialize":
            assert err.value.kind == "invalidParams"
            assert err.value.data["errors"][0]["field"].startswith(field)
    await still_serving(client)


async def test_batches_follow_the_json_rpc_spec(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    # "rpc call with an empty Array": one error, not an array
    assert error_of(await answer_to(client, frame(b"[]"))) == (-32600, None)
    # "rpc call with an invalid Batch (but not empty)" and "invalid Batch"
    for body, count in ((b"[1]", 1), (b"[1,2,3]", 3)):
        answers = await answer_to(client, frame(body))
        assert (
            isinstance(answers, list) and [error_of(a) for a in answers] == [(-32600, None)] * count
        )
    # "rpc call Batch": requests, a notification and garbage mixed
    batch = [
        {"jsonrpc": "2.0", "method": "session/list", "params": {}, "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": "nope"}, "id": "9"},
    ]
    answers = await answer_to(client, frame(json.dumps(batch).encode()))
    by_id = {a["id"]: a for a in answers}
    assert len(answers) == 4
    assert by_id["1"]["result"] == {"sessions": []}
    assert error_of(by_id[None]) == (-32600, None)
    assert error_of(by_id["5"]) == (-32601, "5")
    assert by_id["9"]["error"]["data"]["kind"] == "unknownSession"
    # "rpc call Batch (all notifications)": nothing comes back
    client.write_raw(
        frame(
            b'[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]'
        )
    )
    await still_serving(client)
    assert client.unmatched.empty()


async def test_application_errors_have_documented_codes(spawn_daemon, tmp_path):
    client = await spawn_daemon("--data-dir", str(tmp_path / "data"))

    async def fails(method, params, kind):
        with pytest.raises(RpcError) as err:
            await client.request(method, params, timeout=TIMEOUT)
        assert err.value.kind == kind, err.value
        assert err.value.code == wire.ERRORS[kind][0]
        return err.value

    for method in ("session/send", "session/cancel", "session/end"):
        await fails(method, {"sessionId": "no-such-session", "message": "hi"}, "unknownSession")
    await fails("session/resume", {"sessionId": "no-such-session"}, "unknownSession")
    await fails("session/resume", {"handle": "{not json"}, "invalidHandle")
    await fails(
        "session/resume",
        {
            "handle": json.dumps(
                {"version": 9, "provider": "claude_code", "session_id": "a", "resume_key": "b"}
            )
        },
        "invalidHandle",
    )
    await fails(
        "session/resume",
        {
            "handle": json.dumps(
                {"version": 1, "provider": "gpt", "session_id": "a", "resume_key": "b"}
            )
        },
        "invalidHandle",
    )
    for key in ("../../etc/passwd", "a/b", "-rf", "not-a-uuid"):
        handle = json.dumps(
            {"version": 1, "provider": "claude_code", "session_id": "s1", "resume_key": key}
        )
        await fails("session/resume", {"handle": handle}, "invalidHandle")
    await fails("session/resume", {"sessionId": "../etc"}, "invalidHandle")
    assert not any(
        (tmp_path / "data" / "sessions").iterdir()
    )  # nothing was created for any of them
    await still_serving(client)


async def test_bare_session_id_needs_a_data_dir(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    with pytest.raises(RpcError) as err:
        await client.resume(session_id="1b6f0c9e-3c55-4a59-9a43-3a1f4b1f7b1e")
    assert err.value.kind == "unknownSession" and "handle" in err.value.message


async def test_a_missing_cli_says_how_to_install_it(spawn_daemon, tmp_path):
    env = {**plain_env(tmp_path), "PATH": "/usr/bin:/bin"}
    env.pop("CAW_CLAUDE_BIN", None)
    client = await spawn_daemon("--no-data-dir", env=env)
    with pytest.raises(RpcError) as err:
        await client.start_session(provider="claude")
    assert err.value.kind == "providerNotInstalled" and err.value.code == 1002
    assert "npm install -g @anthropic-ai/claude-code" in err.value.data["installHint"]
    assert err.value.data["provider"] == "claude_code"


async def test_requests_after_shutdown_are_invalid_and_exit_ends_the_daemon(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    await client.shutdown()
    with pytest.raises(RpcError) as err:
        await client.list_sessions()
    assert err.value.code == -32600
    client.exit()
    assert await client.wait_closed() == 0


async def test_exit_without_shutdown_exits_1(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    client.exit()
    assert await client.wait_closed() == 1


async def test_end_of_input_and_sigterm_end_the_daemon(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    client.process.close_stdin()
    assert await client.wait_closed() == 0
    client = await spawn_daemon("--no-data-dir")
    os.kill(client.pid, signal.SIGTERM)
    assert await client.wait_closed() == 0


async def test_stdout_is_reserved_for_the_protocol(spawn_daemon):
    """Nothing but frames reaches stdout (the client would fail to parse anything else)."""
    client = await spawn_daemon("--no-data-dir", "--log-level", "debug")
    await still_serving(client)
    assert any(
        "request session/list" in params["message"]
        for method, params in client.notifications
        if method == "window/logMessage"
    )
    assert any("ready" in line for line in client.stderr_lines)
