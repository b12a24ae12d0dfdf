"""permissionMode "ask" in caw-server, through each real CLI (offline, scripted model).

The daemon asks its client with session/requestPermission (ACP's shape) and acts on the
answer; an "always" outlasts a killed daemon; an edit comes with its diff; a cancelled
turn, a client that cannot answer, one that does not answer in time and one that goes
away all reject, end the turn and leave no backend behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from caw.client import CawClient, RpcError
from tests.support.procs import alive, descendants, wait_until

from .conftest import touch, write

pytestmark = pytest.mark.e2e

TURN = 120  # seconds: a generous bound for one turn on a busy 2-core machine
ANSWERS = {"permissions": True}


def selected(option_id: str) -> dict[str, Any]:
    return {"outcome": {"outcome": "selected", "optionId": option_id}}


class Client:
    """The editor's side: answers session/requestPermission from a script."""

    def __init__(self, client: CawClient):
        self.client = client
        self.next: list[str] = []
        self.asked: list[dict[str, Any]] = []
        client.request_handlers["session/requestPermission"] = self.answer

    def answer(self, params: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(params)
        return selected(self.next.pop(0))


async def send(client: CawClient, sid: str, message: str) -> dict[str, Any]:
    answer: dict[str, Any] = await asyncio.wait_for(client.send(sid, message), TURN)
    turn: dict[str, Any] = answer["turn"]
    return turn


async def test_ask_reject_allow_once_and_always_outlasts_the_daemon(
    provider, cli_env, scripted, spawn_daemon, work, tmp_path
):
    env, data = cli_env(provider), tmp_path / "data"
    first = await spawn_daemon(
        "--data-dir", str(data), env=env, initialize={"clientCapabilities": ANSWERS}
    )
    editor = Client(first)
    sid = (await first.start_session(provider=provider, cwd=str(work)))["sessionId"]

    editor.next = ["reject_once"]
    turn = await send(first, sid, touch("rejected.txt"))
    assert not (work / "rejected.txt").exists()
    assert "reject" in turn["result"].lower(), turn["result"]  # the model was told
    asked = editor.asked[-1]
    assert asked["sessionId"] == sid
    call = asked["toolCall"]
    assert (call["kind"], call["title"], call["status"]) == (
        "execute",
        "touch rejected.txt",
        "pending",
    )
    assert call["toolCallId"] and call["rawInput"]
    assert [o["kind"] for o in asked["options"]] == [
        "allow_once",
        "allow_always",
        "reject_once",
        "reject_always",
    ]
    assert asked["alwaysRule"]["pattern"] == "touch rejected.txt"

    editor.next = ["allow_once", "allow_once"]
    await send(first, sid, touch("once.txt"))
    assert (work / "once.txt").exists()
    (work / "once.txt").unlink()
    await send(first, sid, touch("once.txt"))  # asked again
    assert (work / "once.txt").exists() and len(editor.asked) == 3

    editor.next = ["allow_always"]
    await send(first, sid, touch("always.txt"))
    (work / "always.txt").unlink()
    await send(first, sid, touch("always.txt"))  # remembered: runs unasked
    assert (work / "always.txt").exists() and len(editor.asked) == 4

    children = descendants(first.pid)
    os.kill(first.pid, signal.SIGKILL)
    await first.wait_closed()
    wait_until(
        lambda: not any(alive(pid) for pid in children), what="the killed daemon's backends to end"
    )

    second = await spawn_daemon(
        "--data-dir", str(data), env=env, initialize={"clientCapabilities": ANSWERS}
    )
    editor = Client(second)
    (work / "always.txt").unlink()
    await second.resume(session_id=sid)
    await send(second, sid, touch("always.txt"))  # the rule came back with the session
    assert (work / "always.txt").exists() and editor.asked == []

    # A workspace rule the editor sends with session/start covers a new session.
    rules = [{"tool": "*", "pattern": "touch ws-*", "action": "allow"}]
    other = (await second.start_session(provider=provider, cwd=str(work), permissionRules=rules))[
        "sessionId"
    ]
    await send(second, other, touch("ws-1.txt"))
    assert (work / "ws-1.txt").exists() and editor.asked == []
    stored = json.loads((data / "sessions" / sid / "permissions.json").read_text())
    assert [(r["pattern"], r["action"]) for r in stored["rules"]] == [("touch always.txt", "allow")]


async def test_edit_diff_cancel_and_a_client_that_cannot_answer(
    provider, cli_env, scripted, spawn_daemon, work
):
    env = cli_env(provider)
    client = await spawn_daemon(
        "--no-data-dir", env=env, initialize={"clientCapabilities": ANSWERS}
    )
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.request_handlers["session/requestPermission"] = lambda params: never
    sid = (await client.start_session(provider=provider, cwd=str(work)))["sessionId"]

    pending = client.start_send(sid, write("new.txt", "hello world"))
    asked = await client.wait_for_server_request("session/requestPermission", timeout=TURN)
    call = asked["toolCall"]
    assert call["kind"] == "edit"
    assert [Path(loc["path"]).name for loc in call["locations"]] == ["new.txt"]
    [diff] = call["content"]
    assert (diff["type"], Path(diff["path"]).name, diff["oldText"], diff["newText"]) == (
        "diff", "new.txt", None, "hello world\n",
    )  # fmt: skip

    assert await client.cancel(sid)  # cancelling the turn withdraws its question
    with pytest.raises(RpcError) as cancelled:
        await asyncio.wait_for(pending.future, TURN)
    assert cancelled.value.kind == "cancelled"
    await client.wait_for_notification("$/cancelRequest", timeout=TURN)
    assert not (work / "new.txt").exists()
    assert (await send(client, sid, "Repeat after me: still here"))["result"] == "still here"

    # A client that did not say it can answer is never asked: the call is rejected at once.
    mute = await spawn_daemon("--no-data-dir", env=env)
    mute_sid = (await mute.start_session(provider=provider, cwd=str(work)))["sessionId"]
    turn = await send(mute, mute_sid, touch("unasked.txt"))
    assert not (work / "unasked.txt").exists() and mute.server_requests == []
    assert "reject" in turn["result"].lower(), turn["result"]


async def test_no_answer_in_time_then_the_client_goes_away(
    provider, cli_env, scripted, spawn_daemon, work, tmp_path
):
    env, data = cli_env(provider), tmp_path / "data"
    client = await spawn_daemon(
        "--data-dir", str(data), "--permission-timeout", "3", env=env,
        initialize={"clientCapabilities": ANSWERS},
    )  # fmt: skip
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.request_handlers["session/requestPermission"] = lambda params: never
    sid = (await client.start_session(provider=provider, cwd=str(work)))["sessionId"]

    turn = await send(client, sid, touch("late.txt"))  # nobody answers: rejected after 3 s
    assert not (work / "late.txt").exists()
    assert "reject" in turn["result"].lower(), turn["result"]

    mark = len(client.server_requests)
    client.start_send(sid, touch("gone.txt"))
    await client.wait_for_server_request("session/requestPermission", start=mark, timeout=TURN)
    children = descendants(client.pid)
    assert children, "the backend runs under the daemon"
    assert client.process is not None
    client.process.close_stdin()  # the editor goes away with the question open
    await client.wait_closed(timeout=TURN)
    wait_until(lambda: not any(alive(pid) for pid in children), what="the daemon's backends to end")
    assert not (work / "gone.txt").exists()
    rejected = [line for line in client.stderr_lines if "rejected (cancelled)" in line]
    assert len(rejected) == 1, client.stderr_lines[-20:]  # the open question was rejected
