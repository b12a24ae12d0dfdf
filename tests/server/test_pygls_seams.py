"""The pygls internals the daemon depends on, each pinned by a test that fails if a pygls
upgrade renames, drops or changes it (see the comments on each override in protocol.py).

In process: a CawServer fed frames directly, its output captured (conftest's ``daemon``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, get_args

import pytest
from lsprotocol import types
from pygls.protocol import LanguageServerProtocol, default_converter

from caw.events import TextDelta
from caw.providers import PROVIDER_NAMES
from caw_server import PROTOCOL_VERSION, wire
from caw_server.errors import rpc_error
from caw_server.protocol import CawProtocol

from .inprocess import Daemon

#: Each pygls method CawProtocol overrides; protocol.py says why at each.
OVERRIDES = {
    "_handle_notification",
    "_send_handler_result",
    "_send_response",
    "_send_data",
    "lsp_initialize",
    "lsp_exit",
}
#: pygls internals CawProtocol calls or reads without overriding them.
USED = {
    "_converter",
    "_shutdown",
    "_request_futures",
    "_result_types",
    "_execute_handler",
    "_get_handler",
    "_handle_response",
    "_serialize_message",
    "fm",
    "get_message_type",
    "handle_message",
    "set_writer",
    "notify",
    "send_request",
    "progress",
}


def test_the_protocol_overrides_exactly_the_documented_pygls_methods():
    """A rename in pygls shrinks this set (the override would silently stop being called);
    a pygls method with the name of one of caw's own grows it."""
    overridden = {
        name
        for name in vars(CawProtocol)
        if not name.startswith("__") and hasattr(LanguageServerProtocol, name)
    }
    assert overridden == OVERRIDES


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_each_override_keeps_pygls_signature(name):
    ours, theirs = getattr(CawProtocol, name), getattr(LanguageServerProtocol, name)
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters)
    assert getattr(ours, "method_name", None) == getattr(theirs, "method_name", None)


def test_the_pygls_internals_the_protocol_uses_are_there(daemon: Daemon):
    protocol = daemon.protocol
    missing = {name for name in USED if not hasattr(protocol, name)}
    assert not missing
    assert isinstance(protocol._request_futures, dict)
    assert {"msg_id", "handler", "callback", "args"} <= set(
        inspect.signature(protocol._execute_handler).parameters
    )
    assert list(inspect.signature(protocol._handle_response).parameters) == [
        "msg_id",
        "result",
        "error",
    ]
    # caw's own attributes must not shadow pygls' (which sets these in its __init__).
    plain = LanguageServerProtocol(daemon.server, default_converter())
    assert not {"_hooks", "_output", "client_ready"} & set(vars(plain))


# --- _send_data ---------------------------------------------------------------------------


async def test_every_message_is_framed_by_bytes_and_updates_are_droppable(daemon: Daemon):
    """Through pygls' public notify (and its Progress), then _send_data."""
    update = wire.SessionUpdate(session_id="s", update=TextDelta(text="é✓"))
    daemon.server.notify("session/update", update)
    message, droppable = await daemon.out.next()  # CaptureWriter checks the framing
    assert droppable and message["method"] == "session/update"
    assert message["params"] == update.to_wire()
    daemon.server.work_done_progress.begin("t", types.WorkDoneProgressBegin(title="caw"))
    message, droppable = await daemon.out.next()
    assert message["method"] == "$/progress" and not droppable
    answer = await daemon.request("session/list", {})
    assert answer == {"jsonrpc": "2.0", "id": "r", "result": {"sessions": []}}


async def test_log_lines_reach_the_client_as_droppable_log_messages(daemon: Daemon):
    await daemon.request("session/list", {})  # the first message attaches the client log
    daemon.server._log_to_client(logging.WARNING, "careful")
    message, droppable = await daemon.out.next()
    assert droppable
    assert message["method"] == "window/logMessage"
    assert message["params"] == {"type": types.MessageType.Warning.value, "message": "careful"}


async def test_a_request_to_the_client_is_answered_through_pygls(daemon: Daemon):
    """send_request (permissions.py asks the client) and _handle_response, fed by receive_frame."""
    future = daemon.protocol.send_request("test/ask", {"q": 1}, msg_id="ask-1")
    message, droppable = await daemon.out.next()
    assert message == {"jsonrpc": "2.0", "id": "ask-1", "method": "test/ask", "params": {"q": 1}}
    assert not droppable
    daemon.send({"jsonrpc": "2.0", "id": "ask-1", "result": {"a": 2}})
    assert await asyncio.wait_for(asyncio.wrap_future(future), 10) == {"a": 2}
    assert "ask-1" not in daemon.protocol._request_futures
    late = daemon.protocol.send_request("test/ask", {}, msg_id="ask-2")
    daemon.protocol.forget_request("ask-2")
    assert "ask-2" not in daemon.protocol._result_types
    daemon.send({"jsonrpc": "2.0", "id": "ask-2", "result": {}})  # a late answer is dropped
    assert not late.done()


# --- _send_response -----------------------------------------------------------------------


async def test_an_error_answer_keeps_a_null_id(daemon: Daemon):
    daemon.protocol.receive_frame(b"{not json")
    answer = await daemon.out.next_message()
    assert "id" in answer and answer["id"] is None
    assert answer["error"]["code"] == -32700 and "result" not in answer
    answer = await daemon.request("session/end", {"sessionId": "nope"}, msg_id=None)
    assert answer["id"] is None and answer["error"]["data"]["kind"] == "unknownSession"


async def test_a_batch_is_answered_with_one_array(daemon: Daemon):
    daemon.send(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "session/list", "params": {}},
            {"jsonrpc": "2.0", "method": "$/setTrace", "params": {"value": "off"}},
            {"jsonrpc": "2.0", "id": 2, "method": "session/end", "params": {"sessionId": "x"}},
        ]
    )
    answers = await daemon.out.next_message()
    assert isinstance(answers, list)
    by_id = {a["id"]: a for a in answers}
    assert set(by_id) == {1, 2}
    assert by_id[1]["result"] == {"sessions": []}
    assert by_id[2]["error"]["data"]["kind"] == "unknownSession"


async def test_shutdown_answers_a_null_result(daemon: Daemon):
    answer = await daemon.request("shutdown")
    assert answer == {"jsonrpc": "2.0", "id": "r", "result": None}


# --- _send_handler_result -----------------------------------------------------------------


def _register(daemon: Daemon, method: str, handler: Any) -> None:
    daemon.server.feature(method)(handler)


async def test_a_cancelled_request_answers_kind_cancelled(daemon: Daemon):
    started = asyncio.Event()

    async def wait(params: Any) -> None:
        started.set()
        await asyncio.Event().wait()

    _register(daemon, "test/wait", wait)
    daemon.send({"jsonrpc": "2.0", "id": 7, "method": "test/wait", "params": {}})
    await asyncio.wait_for(started.wait(), 10)
    daemon.notify("$/cancelRequest", {"id": 7})
    answer = await daemon.out.next_message()
    assert answer["id"] == 7
    assert answer["error"]["code"] == -32800 and answer["error"]["data"] == {"kind": "cancelled"}


async def test_an_unexpected_exception_answers_internal_without_its_traceback(
    daemon: Daemon, caplog
):
    async def boom(params: Any) -> None:
        raise RuntimeError("a detail for the log only")

    _register(daemon, "test/boom", boom)
    answer = await daemon.request("test/boom", {})
    assert answer["error"]["code"] == -32603
    assert answer["error"]["data"] == {"kind": "internal"}
    assert "a detail" not in str(answer) and "Traceback" not in str(answer)
    assert any(r.exc_info and "a detail" in str(r.exc_info[1]) for r in caplog.records)


async def test_an_expected_error_is_answered_without_a_logged_traceback(daemon: Daemon, caplog):
    async def unknown(params: Any) -> None:
        raise rpc_error("unknownSession", "no such session")

    _register(daemon, "test/unknown", unknown)
    with caplog.at_level(logging.DEBUG):
        answer = await daemon.request("test/unknown", {})
    assert answer["error"]["data"]["kind"] == "unknownSession"
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# --- _handle_notification -----------------------------------------------------------------


async def test_notifications_do_not_pile_up_futures(daemon: Daemon):
    for _ in range(50):
        daemon.notify("$/setTrace", {"value": "off"})
    await daemon.request("session/list", {})
    assert len(daemon.protocol._request_futures) <= 1


async def test_cancelling_a_finished_request_is_quiet(daemon: Daemon, caplog):
    await daemon.request("session/list", {}, msg_id=3)
    with caplog.at_level(logging.DEBUG):
        daemon.notify("$/cancelRequest", {"id": 3})
        await daemon.request("session/list", {})
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_failing_notification_handler_is_logged_with_traceback_not_params(
    daemon: Daemon, caplog
):
    def broken(params: Any) -> None:
        raise ValueError("handler broke")

    _register(daemon, "test/note", broken)
    daemon.notify("test/note", {"token": "do-not-log-me"})
    await daemon.request("session/list", {})
    failures = [r for r in caplog.records if r.exc_info and "handler broke" in str(r.exc_info[1])]
    assert failures
    assert not any("do-not-log-me" in r.getMessage() for r in caplog.records)


# --- lsp_initialize and lsp_exit ----------------------------------------------------------


async def test_initialize_answers_caw_capabilities_through_the_daemon(daemon: Daemon):
    assert not daemon.protocol.client_ready
    answer = await daemon.request(
        "initialize", {"processId": None, "capabilities": {}, "initializationOptions": {}}
    )
    capabilities = answer["result"]["capabilities"]
    health = capabilities["experimental"]["caw"].pop("health")  # files only: no probe needed
    assert [h["provider"] for h in health] == list(PROVIDER_NAMES)
    assert capabilities["experimental"]["caw"] == {
        "protocolVersion": PROTOCOL_VERSION,
        "providers": [],  # no probe runs in process
        "tools": {
            "mcpServers": ["stdio", "http"],
            "toolGroups": list(get_args(wire.ToolGroupName)),
        },
    }
    assert "textDocumentSync" not in capabilities
    assert answer["result"]["serverInfo"]["name"] == "caw-server"
    assert daemon.protocol.client_ready


async def test_initialize_validates_its_options_in_the_daemon(daemon: Daemon):
    answer = await daemon.request(
        "initialize",
        {"processId": None, "capabilities": {}, "initializationOptions": {"idleTimeout": "x"}},
    )
    error = answer["error"]
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["field"] == "initializationOptions.idleTimeout"
    answer = await daemon.request(
        "initialize",
        {"processId": None, "capabilities": {}, "initializationOptions": {"idleTimeout": 30}},
    )
    assert "result" in answer and daemon.server.options.idle_timeout == 30


async def test_exit_stops_through_the_daemon_not_sys_exit(daemon: Daemon):
    daemon.notify("exit")  # pygls would raise SystemExit here
    assert daemon.server.exit_code == 1  # no shutdown before it
    await daemon.request("shutdown")
    daemon.notify("exit")
    assert daemon.server.exit_code == 0
