"""Protocol 1.2's turn record through the daemon, with each real CLI: attachments reach the
model, a bad one is refused by name, a failed turn is kept and comes back in a new daemon,
titles, rename and delete, usage and cost per turn and per session.

One daemon session per provider serves every check, to keep the real-CLI time down.
"""

from __future__ import annotations

import json

import pytest

from caw.client import RpcError

pytestmark = pytest.mark.e2e

TURN = 120  # seconds: a generous bound for one turn on a busy 2-core machine


def last_request_text(scripted) -> str:
    return json.dumps(scripted.main_requests()[-1].body)


async def test_the_turn_record(provider, cli_env, scripted, spawn_daemon, tmp_path):
    env = cli_env(provider)
    data = tmp_path / "data"
    work = tmp_path / "work"
    work.mkdir()
    notes = work / "notes.txt"
    notes.write_text("the whole file: alpha-marker-4711\n")
    lines = work / "lines.py"
    lines.write_text("line-one-skip\nline-two-take\nline-three-take\nline-four-skip\n")
    client = await spawn_daemon("--data-dir", str(data), env=env)
    sid = (await client.start_session(provider=provider, cwd=str(work)))["sessionId"]

    # a whole file (resource_link), a range of a file and an embedded selection reach the model
    attachments = [
        {"type": "resource_link", "uri": notes.as_uri(), "name": "notes.txt"},
        {"type": "resource_link", "uri": f"{lines.as_uri()}#L2-L3"},
        {
            "type": "resource",
            "resource": {"uri": f"{lines.as_uri()}#L9-L9", "text": "embedded-sel-0815"},
        },
    ]
    first = (
        await client.request(
            "session/send",
            {
                "sessionId": sid,
                "message": "## Look at **these** files\nRepeat after me: seen",
                "attachments": attachments,
            },
            timeout=TURN,
        )
    )["turn"]
    seen = last_request_text(scripted)
    assert "alpha-marker-4711" in seen and "embedded-sel-0815" in seen
    assert "line-two-take" in seen and "line-three-take" in seen
    assert "line-one-skip" not in seen and "line-four-skip" not in seen
    assert first["status"] == "completed" and first["error"] is None
    assert first["attachments"] == [
        {"uri": notes.as_uri(), "name": "notes.txt"},
        {"uri": f"{lines.as_uri()}#L2-L3", "name": "lines.py#L2-L3"},
        {"uri": f"{lines.as_uri()}#L9-L9", "name": "lines.py#L9-L9"},
    ]
    assert first["input"].startswith("## Look at")  # the user's text; contents are not recorded
    assert "alpha-marker-4711" not in json.dumps(first)
    usage = first["usage"]
    assert usage["costUsd"] is not None and usage["costUsd"] > 0, usage
    assert usage["contextTokens"] is not None and usage["contextTokens"] > 0, usage
    if provider != "opencode":  # opencode's events do not carry the model's window
        assert usage["contextWindow"] is not None and usage["contextWindow"] > 0, usage

    # a bad attachment: invalidParams naming it, nothing sent, and the session goes on
    requests_before = len(scripted.main_requests())
    for bad, reason in (
        ({"type": "resource_link", "uri": work.as_uri(), "name": "the-folder"}, "not a file"),
        ({"type": "resource_link", "uri": (work / "gone.txt").as_uri()}, "no such file"),
    ):
        with pytest.raises(RpcError) as caught:
            await client.send(sid, "Repeat after me: never", attachments=[attachments[0], bad])
        assert caught.value.kind == "invalidParams"
        name = bad.get("name") or "gone.txt"
        assert name in caught.value.message and reason in caught.value.message
        assert caught.value.data["errors"][0]["field"] == "attachments.1"
    assert len(scripted.main_requests()) == requests_before

    # a turn the model fails is answered with its error, then kept in the record
    with pytest.raises(RpcError) as failed:
        await client.send(sid, "[[fail:400]] Repeat after me: doomed")
    assert failed.value.kind in ("modelError", "backendFailed")
    third = (await client.send(sid, "Repeat after me: after the failure"))["turn"]
    assert third["result"] == "after the failure" and third["index"] == 2

    # titles, usage and totals on session/list
    listed = {s["sessionId"]: s for s in await client.list_sessions()}[sid]
    assert listed["title"] == "Look at these files"
    assert listed["turnCount"] == 3 and listed["provider"] == provider
    assert listed["totalCostUsd"] is not None and listed["totalCostUsd"] >= usage["costUsd"]
    assert listed["lastActivity"] >= listed["createdAt"]
    assert "reasoning" in listed and "model" in listed
    renamed = await client.request(
        "session/rename", {"sessionId": sid, "title": "  Deploy\nnotes "}
    )
    assert renamed["title"] == "Deploy notes" and renamed["sessionId"] == sid
    await client.end(sid)

    # a NEW daemon: the failed turn comes back, marked, in order with the good ones
    again = await spawn_daemon("--data-dir", str(data), env=env)
    resumed = await again.resume(session_id=sid)
    turns = resumed["turns"]
    assert [t["status"] for t in turns] == ["completed", "failed", "completed"]
    assert [t["index"] for t in turns] == [0, 1, 2]
    assert "doomed" in turns[1]["input"]
    assert turns[1]["error"]["kind"] == failed.value.kind and turns[1]["error"]["message"]
    assert turns[0]["attachments"][0]["name"] == "notes.txt"
    listed = {s["sessionId"]: s for s in await again.list_sessions()}[sid]
    assert listed["title"] == "Deploy notes" and listed["live"] is True

    # delete: the live session ends, its folder goes, the list no longer shows it
    assert await again.request("session/delete", {"sessionId": sid}) == {}
    assert not (data / "sessions" / sid).exists()
    assert sid not in {s["sessionId"] for s in await again.list_sessions()}
    with pytest.raises(RpcError) as gone:
        await again.request("session/delete", {"sessionId": sid})
    assert gone.value.kind == "unknownSession"
