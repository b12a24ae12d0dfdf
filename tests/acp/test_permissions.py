"""``session/request_permission``: caw's permission core asks the editor, for every provider.

A reject keeps the tool from running, an allow lets it run, and an "always" answer is a
rule in the session's data dir that a new ``caw acp`` applies without asking again.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from .conftest import TURN, Editor, caw_acp, prompt, text_block

pytestmark = pytest.mark.e2e


def touch(name: str) -> str:
    return f"[[tool:bash:touch {name}]] go"


async def test_reject_allow_and_always_outlasts_kill_9(provider, cli_env, scripted, work, tmp_path):
    env, data, log = cli_env(provider), tmp_path / "data", tmp_path / "caw-acp.log"
    flags = ("--provider", provider, "--data-dir", str(data))  # --permission-mode ask: the default
    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, proc):
        sid = (await conn.new_session(cwd=str(work), mcp_servers=[])).session_id

        editor.answers = ["reject_once"]
        await prompt(conn, sid, text_block(touch("rejected.txt")))
        assert not (work / "rejected.txt").exists()
        (asked,) = editor.asked
        assert asked.session_id == sid
        call = asked.tool_call
        assert (call.kind, call.status) == ("execute", "pending")
        assert "touch rejected.txt" in (call.title or "") and call.raw_input
        assert [o.kind for o in asked.options] == [
            "allow_once",
            "allow_always",
            "reject_once",
            "reject_always",
        ]
        assert "reject" in editor.text().lower()  # the model was told

        editor.answers = ["allow_once"]
        assert await prompt(conn, sid, text_block(touch("allowed.txt"))) == "end_turn"
        assert (work / "allowed.txt").exists()
        assert len(editor.asked) == 2

        editor.answers = ["allow_always"]
        assert await prompt(conn, sid, text_block(touch("always.txt"))) == "end_turn"
        assert (work / "always.txt").exists() and len(editor.asked) == 3
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    (work / "always.txt").unlink()
    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, proc):
        await conn.load_session(cwd=str(work), session_id=sid, mcp_servers=[])
        editor.answers = ["reject_once"]  # would keep the file from being made, if asked
        assert await prompt(conn, sid, text_block(touch("always.txt"))) == "end_turn"
        assert (work / "always.txt").exists()
        assert editor.asked == []  # the remembered rule answered


async def test_cancel_while_a_question_is_open(provider, cli_env, scripted, work, tmp_path):
    """session/cancel with a question unanswered: the prompt answers cancelled, nothing runs,
    and the session goes on."""
    env, log = cli_env(provider), tmp_path / "caw-acp.log"
    editor = Editor()
    async with caw_acp(editor, env, work, "--provider", provider, "--no-data-dir", stderr=log) as (
        conn,
        _proc,
    ):
        sid = (await conn.new_session(cwd=str(work), mcp_servers=[])).session_id
        editor.hold = True
        asking = asyncio.ensure_future(
            conn.prompt(session_id=sid, prompt=[text_block(touch("held.txt"))])
        )
        await asyncio.wait_for(_asked(editor), TURN)
        await conn.cancel(session_id=sid)
        assert (await asyncio.wait_for(asking, 60)).stop_reason == "cancelled"
        assert not (work / "held.txt").exists()
        editor.hold = False
        mark = len(editor.updates)
        assert await prompt(conn, sid, text_block("Repeat after me: still here")) == "end_turn"
        assert editor.text(since=mark) == "still here"


async def _asked(editor: Editor) -> None:
    while not editor.asked:
        editor.changed.clear()
        await editor.changed.wait()
