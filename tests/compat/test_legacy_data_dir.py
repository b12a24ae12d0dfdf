"""A data dir written by caw 0.1.9 resumes here, every provider through its real CLI.

The 0.1.9 data dir is written by hand from its documented layout (sessions/<id>/traj.jsonl,
trajectory.json, turns/NNN_*; no handle file; claude's resume key is the session id, codex's
is metadata["thread_id"], opencode's metadata["opencode_session_id"]) around a conversation
the real CLI holds."""

from __future__ import annotations

import json

import pytest

from caw import Agent, UnknownSession, decode_handle

pytestmark = pytest.mark.e2e

KEY_FIELD = {"codex": "thread_id", "opencode": "opencode_session_id"}


def write_0_1_9_session(data_dir, provider, session_id, key, fact_turn, ended):
    """One session folder as caw 0.1.9 leaves it (``ended``: session.end() was called)."""
    folder = data_dir / "sessions" / session_id
    (folder / "turns").mkdir(parents=True)
    metadata = {KEY_FIELD[provider]: key} if provider in KEY_FIELD else {}
    usage = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": 0.0,
    }
    turn = {
        "input": fact_turn.input,
        "output": [{"type": "text", "text": fact_turn.result}],
        "usage": usage,
        "duration_ms": 900,
    }
    trajectory = {
        "agent": provider, "model": "", "session_id": session_id,
        "created_at": "2026-03-01T10:00:00.000000", "completed_at": "2026-03-01T10:00:05.000000" if ended else "",
        "usage_limited": False, "system_prompt": "", "reasoning": "", "mcp_servers": [],
        "turns": [turn], "usage": usage, "total_usage": usage, "duration_ms": 900, "metadata": metadata,
    }  # fmt: skip
    (folder / "trajectory.json").write_text(json.dumps(trajectory, indent=2))
    lines = [
        {"type": "metadata", "session_id": session_id, "created_at": trajectory["created_at"], "agent": provider,
         "model": "", "system_prompt": "", "reasoning": "", "mcp_servers": [], "metadata": metadata},
        {"type": "user", "message": fact_turn.input, "turn_index": 0},
        {"type": "text", "text": fact_turn.result, "turn_index": 0},
        {"type": "turn_end", "turn_index": 0, "usage": usage, "duration_ms": 900},
    ]  # fmt: skip
    (folder / "traj.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (folder / "turns" / "000_input.txt").write_text(fact_turn.input)


@pytest.fixture
def legacy(provider, cli_env, tmp_path, scripted):
    """(env, data_dir, session_id, handle): a conversation the CLI holds, recorded as 0.1.9 would."""
    env = cli_env(provider)
    with Agent(provider, env=env).start_session() as session:
        fact = session.send("My locker code is 4242.")
        handle = decode_handle(session.resume_handle)
    data_dir = tmp_path / "caw_data"
    write_0_1_9_session(data_dir, provider, handle.session_id, handle.resume_key, fact, ended=False)
    return env, data_dir, handle.session_id, handle


def test_resume_by_bare_id(provider, legacy):
    env, data_dir, session_id, _ = legacy
    agent = Agent(data_dir=str(data_dir), env=env)
    session = agent.resume_session(session_id)
    assert session.trajectory.num_turns == 1  # its history, never ended, loaded
    assert session.send("What is my locker code?").result == "4242"
    traj = session.end()
    assert traj.num_turns == 2 and traj.agent == provider and traj.is_complete


def test_resume_by_0_1_9_handle_with_its_data_dir(provider, legacy):
    env, data_dir, session_id, handle = legacy
    encoded = json.dumps(
        {
            "version": 1,
            "provider": provider,
            "session_id": session_id,
            "resume_key": handle.resume_key,
        }
    )
    session = Agent(provider, str(data_dir), env=env).resume_session(encoded)
    assert session.send("What is my locker code?").result == "4242"
    assert [t.input for t in session.end().turns] == [
        "My locker code is 4242.",
        "What is my locker code?",
    ]


def test_a_0_1_9_session_without_a_key_says_so(provider, cli_env, tmp_path):
    class Fact:
        input, result = "hello", ""

    data_dir = tmp_path / "caw_data"
    write_0_1_9_session(
        data_dir, provider, "5f0e4a54-aaaa-4bbb-8ccc-000000000001", "", Fact, ended=True
    )
    if provider == "claude_code":
        pytest.skip("claude's key is its session id: a 0.1.9 claude session always has one")
    with pytest.raises(UnknownSession, match="without a resume key"):
        Agent(data_dir=str(data_dir), env=cli_env(provider)).resume_session(
            "5f0e4a54-aaaa-4bbb-8ccc-000000000001"
        )
