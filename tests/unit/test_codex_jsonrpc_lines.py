"""The JSON-RPC-lines peer, against a small Python child that plays the server."""

from __future__ import annotations

import asyncio
import sys

import pytest

from caw.errors import BackendFailed
from caw.providers.jsonrpc_lines import JsonRpcPeer, PeerClosed, RpcError
from caw.providers.process import ChildProcess
from caw.redact import hide_key

# A scripted server: echoes requests, fails on "fail", asks us something on "ask",
# notifies on "notify", exits on "exit"; every line it reads is logged to stderr.
SERVER = r"""
import json, sys
def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    msg = json.loads(line)
    sys.stderr.write("got " + line); sys.stderr.flush()
    method, mid = msg.get("method"), msg.get("id")
    if method == "echo":
        out({"id": mid, "result": {"params": msg.get("params"), "jsonrpc": msg.get("jsonrpc")}})
    elif method == "fail":
        out({"id": mid, "error": {"code": -32600, "message": "no rollout found", "data": {"x": 1}}})
    elif method == "notify":
        for i in range(3):
            out({"method": "tick", "params": {"i": i}})
        out({"id": mid, "result": "done"})
    elif method == "ask":
        out({"id": 0, "method": "approve", "params": {"what": msg["params"]}})
        answer = json.loads(sys.stdin.readline())
        out({"id": mid, "result": answer})
    elif method == "exit":
        sys.stderr.write("bye\n"); sys.stderr.flush()
        sys.exit(3)
    elif method == "initialized":
        out({"method": "seen", "params": {"initialized": "id" not in msg}})
"""


@pytest.fixture
async def child():
    process = await ChildProcess.spawn([sys.executable, "-c", SERVER], name="toy server")
    yield process
    await process.stop()


async def test_requests_match_responses_by_id(child):
    peer = JsonRpcPeer(child, version=None)
    results = await asyncio.gather(*(peer.request("echo", {"n": n}) for n in range(5)))
    assert [r["params"]["n"] for r in results] == list(range(5))
    assert results[0]["jsonrpc"] is None  # codex style: no jsonrpc field
    child.close_stdin()
    await peer.wait_closed()


async def test_the_jsonrpc_field_is_sent_by_default(child):
    peer = JsonRpcPeer(child)
    assert (await peer.request("echo"))["jsonrpc"] == "2.0"


async def test_error_responses_raise_rpc_error(child):
    peer = JsonRpcPeer(child)
    with pytest.raises(RpcError) as caught:
        await peer.request("fail", {})
    assert caught.value.code == -32600 and caught.value.rpc_message == "no rollout found"
    assert caught.value.data == {"x": 1}
    assert "fail: no rollout found" in str(caught.value)
    assert isinstance(caught.value, BackendFailed)


async def test_notifications_arrive_in_order_before_the_response(child):
    seen: list[tuple[str, dict]] = []
    initialized = asyncio.Event()

    def on_notification(method, params, raw):
        seen.append((method, params))
        if method == "seen":
            initialized.set()

    peer = JsonRpcPeer(child, on_notification=on_notification)
    assert await peer.request("notify") == "done"
    assert seen == [("tick", {"i": 0}), ("tick", {"i": 1}), ("tick", {"i": 2})]
    await peer.notify("initialized")
    await asyncio.wait_for(initialized.wait(), 10)
    assert seen[-1] == ("seen", {"initialized": True})


async def test_server_requests_are_answered_by_the_handler(child):
    async def on_request(method, params, raw):
        assert raw["id"] == 0
        return {"decision": "accept", "method": method, "what": params["what"]}

    peer = JsonRpcPeer(child, on_request=on_request)
    answer = await peer.request("ask", "rm -rf build")
    assert answer["id"] == 0 and answer["result"] == {
        "decision": "accept",
        "method": "approve",
        "what": "rm -rf build",
    }


@pytest.mark.parametrize(
    ("handler", "code"),
    [(None, -32601), ("rpc", -32000), ("boom", -32603)],
    ids=["no-handler", "rpc-error", "crash"],
)
async def test_failed_server_requests_get_an_error_answer(child, handler, code):
    async def on_request(method, params, raw):
        if handler == "rpc":
            raise RpcError(-32000, "not here")
        raise ValueError("boom")

    peer = JsonRpcPeer(child, on_request=None if handler is None else on_request)
    answer = await peer.request("ask", "x")
    assert answer["error"]["code"] == code and "result" not in answer


async def test_exit_fails_pending_requests_with_the_exit_and_stderr(child):
    closed = asyncio.Event()
    peer = JsonRpcPeer(child, on_close=closed.set)
    with pytest.raises(PeerClosed) as caught:
        await peer.request("exit")
    assert "exited with code 3" in str(caught.value) and "bye" in str(caught.value)
    assert caught.value.exit_code == 3 and "bye" in caught.value.stderr_tail
    assert closed.is_set() and peer.closed
    with pytest.raises(PeerClosed):  # later requests fail at once
        await peer.request("echo")


async def test_hidden_resume_keys_never_leave_in_the_stderr_tail(child):
    # codex names its threads in its log lines (shell snapshot files); errors quote that stderr.
    peer = JsonRpcPeer(child)
    hide_key("0199aa00-key")
    hide_key(None)  # a conversation that has no key yet
    await peer.request("echo", {"thread": "0199aa00-key"})
    with pytest.raises(PeerClosed) as caught:
        await peer.request("exit")
    assert '"thread":"<resume key>"' in caught.value.stderr_tail
    assert "0199aa00-key" not in caught.value.stderr_tail and "0199aa00-key" not in str(
        caught.value
    )


async def test_non_json_lines_are_skipped():
    script = 'import sys\nprint("warming up...")\nprint(\'{"method": "ready"}\')\nsys.stdout.flush()\nsys.stdin.readline()'
    process = await ChildProcess.spawn([sys.executable, "-c", script], name="chatty")
    seen: list[str] = []
    ready = asyncio.Event()

    def on_notification(method: str, params: object, raw: object) -> None:
        seen.append(method)
        ready.set()

    peer = JsonRpcPeer(process, on_notification=on_notification)
    await asyncio.wait_for(ready.wait(), 10)
    assert seen == ["ready"]
    await process.stop()
    await peer.aclose()
