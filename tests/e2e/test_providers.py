"""The library's promises, proven for every provider through its real CLI.

Each test runs once per provider (the ``provider`` fixture) against the scripted
model server; nothing here imitates a CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import caw
from caw import Agent, AsyncAgent
from caw.providers import provider_class
from caw.testing import RecordedRequest, Reply
from tests.support.procs import kill, matching, wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
STEPS = Path(__file__).with_name("resume_contract_steps.py")


def backend_pids(provider: str) -> list[int]:
    """The backend CLI processes this test process started."""
    return matching(provider_class(provider).cli, root=os.getpid())


def run_step(env: dict[str, str], *args: str, cwd: Path) -> dict:
    """Run one process of the resume contract in a fresh interpreter; it prints a JSON line."""
    out = subprocess.run(
        [sys.executable, str(STEPS), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, f"step {args[0]} failed:\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def env(provider, cli_env):
    return cli_env(provider)


def test_documented_example_runs_as_written(provider, env, tmp_path, scripted):
    """examples/resume.py, the documented example, runs verbatim; CAW_PROVIDER picks the backend."""
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "resume.py")],
        env={**env, "CAW_PROVIDER": provider}, cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "[with data_dir]    recalled: '42'" in out.stdout
    assert "[with data_dir]    turns in trajectory: 2" in out.stdout
    assert "[without data_dir] recalled: '42'" in out.stdout
    assert "[without data_dir] turns in trajectory: 1" in out.stdout
    handle = json.loads(out.stdout.split("Stored resume_handle: ", 1)[1].splitlines()[0])
    assert handle["provider"] == provider
    assert handle["version"] == 1
    # the handle went to stdout because the example prints it; it must not reach the logs
    assert handle["resume_key"] not in out.stderr or handle["resume_key"] == handle["session_id"]
    assert json.dumps(handle) not in out.stderr
    trajectory = json.loads(
        (tmp_path / "caw_data" / "sessions" / handle["session_id"] / "trajectory.json").read_text()
    )
    assert [t["input"] for t in trajectory["turns"]] == [
        "My favorite number is 42. Acknowledge it.",
        "What is my favorite number?",
    ]


@pytest.mark.parametrize("with_data_dir", [False, True], ids=["no-data-dir", "data-dir"])
def test_resume_in_a_new_process(provider, env, tmp_path, scripted, with_data_dir):
    data = ["--data-dir", str(tmp_path / "data")] if with_data_dir else []
    first = run_step(
        env,
        "start",
        provider,
        "My deploy target is staging-eu. Remember that.",
        *data,
        cwd=tmp_path,
    )
    handle = json.loads(first["handle"])
    assert handle["provider"] == provider and handle["session_id"] == first["session_id"]
    if provider == "claude_code":
        assert handle["resume_key"] == handle["session_id"]
    else:
        assert handle["resume_key"] != handle["session_id"]
    second = run_step(
        env, "resume", provider, first["handle"], "Where am I deploying?", *data, cwd=tmp_path
    )
    assert second["result"] == "staging-eu"
    assert second["num_turns"] == (2 if with_data_dir else 1)
    # the model really saw the earlier turn: the resumed request carried the history
    last = scripted.main_requests()[-1]
    assert any("staging-eu" in text for text in last.user_texts()[:-1])
    if with_data_dir:
        trajectory = caw.Trajectory.model_validate_json(
            (tmp_path / "data" / "sessions" / first["session_id"] / "trajectory.json").read_text()
        )
        assert [t.result for t in trajectory.turns] == [
            "Noted: deploy target is staging-eu.",
            "staging-eu",
        ]
        assert sorted(p.name for p in (tmp_path / "data" / "sessions" / first["session_id"] / "turns").iterdir()) == [
            "001_input.txt", "001_raw_output.jsonl", "002_input.txt", "002_raw_output.jsonl",
        ]  # fmt: skip


def test_bare_session_id(provider, env, tmp_path, scripted):
    data_dir = tmp_path / "data"
    first = run_step(
        env,
        "start",
        provider,
        "My color is teal. Remember that.",
        "--data-dir",
        str(data_dir),
        cwd=tmp_path,
    )
    # with the data_dir the key is read from disk
    second = run_step(
        env,
        "resume",
        provider,
        first["session_id"],
        "What is my color?",
        "--data-dir",
        str(data_dir),
        cwd=tmp_path,
    )
    assert second["result"] == "teal"
    # without one it cannot be resumed, and the error says why
    agent = Agent(provider=provider, env=env)
    with pytest.raises(FileNotFoundError, match="data_dir"):
        agent.resume_session(first["session_id"])


def test_handle_needs_a_first_exchange(provider, env, scripted):
    agent = Agent(provider=provider, env=env)
    with agent.start_session() as session:
        with pytest.raises(RuntimeError, match="send a message first"):
            _ = session.resume_handle
        session.send("Hello there.")
        assert json.loads(session.resume_handle)["provider"] == provider


def test_provider_mismatch_names_both(provider, env, scripted):
    other = "codex" if provider != "codex" else "claude_code"
    with Agent(provider=provider, env=env).start_session() as session:
        session.send("Hello there.")
        handle = session.resume_handle
    with pytest.raises(ValueError, match=rf"{provider}.*{other}"):
        Agent(provider=other, env=env).resume_session(handle)


def test_unknown_resume_key_fails_clearly(provider, env, scripted):
    agent = Agent(provider=provider, env=env)
    # a key of the right shape that the backend never issued
    key = {"opencode": "ses_0123456789abcdefABCDEFghij"}.get(
        provider, "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a"
    )
    handle = caw.ResumeHandle(
        provider=provider, session_id="0b6e4b5e-8c4f-4b7a-9a59-000000000000", resume_key=key
    ).encode()
    requests_before = len(scripted.main_requests())

    def resume_and_send() -> None:  # either step may be the one that fails
        session = agent.resume_session(handle)
        try:
            session.send("Where am I deploying?")
        finally:
            session.end()

    with pytest.raises(caw.CawError) as caught:
        resume_and_send()
    assert (
        key in str(caught.value)
        or "conversation" in str(caught.value).lower()
        or "not found" in str(caught.value).lower()
    )
    # no fresh conversation was started silently
    assert len(scripted.main_requests()) == requests_before


@pytest.mark.parametrize("bad_key", ["../../etc/passwd", "not-a-valid-key", "-rf"])
def test_malformed_resume_key_is_rejected_before_any_process(provider, env, bad_key):
    handle = json.dumps(
        {"version": 1, "provider": provider, "session_id": "abc", "resume_key": bad_key}
    )
    before = backend_pids(provider)
    with pytest.raises(caw.InvalidHandle):
        Agent(provider=provider, env=env).resume_session(handle)
    assert set(backend_pids(provider)) <= set(before), (
        "no backend process may start for a malformed key"
    )


def test_events_stream_before_the_turn_returns(provider, env, scripted):
    seen: list[caw.Event] = []
    delivered = threading.Event()  # a text delta reached the caller

    def on_event(event: caw.Event) -> None:
        seen.append(event)
        if isinstance(event, caw.TextDelta):
            delivered.set()

    def hold_the_end(request: RecordedRequest, reply: Reply) -> Reply | None:
        # The answer's last delta waits for a delivered one: an answer that ends first may reach
        # caw in one piece (opencode's turn ends with its POST's answer, which fills in what its
        # stream has not sent), from an instant model or behind a stalled stream alike.
        texts = request.user_texts()
        if request.kind == "main" and texts and "quick brown fox" in texts[-1]:
            reply.hold = lambda: delivered.wait(60)
            return reply
        return None

    scripted.set_responder(hold_the_end)
    with Agent(provider=provider, env=env).start_session() as session:
        turn = session.send(
            "[[slow:0.5]] Repeat after me: the quick brown fox jumps over the lazy dog",
            on_event=on_event,
        )
    texts = [e for e in seen if isinstance(e, caw.TextDelta)]
    assert len(texts) > 1, "the answer should arrive as several deltas"
    assert (
        "".join(e.text for e in texts).strip()
        == turn.result
        == "the quick brown fox jumps over the lazy dog"
    )
    assert turn.usage.output_tokens > 0 and turn.duration_ms > 0


def test_tool_call_and_result(provider, env, scripted):
    with Agent(provider=provider, env=env).start_session() as session:
        turn = session.send("[[tool:bash:echo hello-from-tool]] Run it.")
    tools = [b for b in turn.output if isinstance(b, caw.ToolUseBlock)]
    assert tools, turn.output
    assert "hello-from-tool" in (tools[0].output or "")
    assert turn.result == "Tool said: hello-from-tool"


def test_system_prompt_reaches_the_model_and_reasoning_is_taken(provider, env, scripted):
    agent = Agent(
        provider=provider, env=env, system_prompt="You are caw-test-persona.", reasoning="high"
    )
    with agent.start_session() as session:
        session.send("Hello there.")
    request = scripted.main_requests()[-1]
    assert "caw-test-persona" in request.system


def test_parallel_sessions_do_not_mix(provider, env, scripted):
    agent = Agent(provider=provider, env=env)
    facts = {f"s{i}": f"value-{i}" for i in range(3)}
    answers: dict[str, str] = {}

    def converse(name: str, value: str) -> None:
        with agent.start_session() as session:
            session.send(f"My secret word is {value}. Remember that.")
            answers[name] = session.send("What is my secret word?").result

    threads = [threading.Thread(target=converse, args=item) for item in facts.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert answers == facts


def test_killed_backend_gives_a_clear_error_and_the_next_send_recovers(
    provider, env, scripted, tmp_path
):
    agent = Agent(provider=provider, env=env, data_dir=tmp_path / "data")
    session = agent.start_session()
    try:
        session.send("My deploy target is staging-eu. Remember that.")
        failure: list[BaseException] = []

        def slow_turn() -> None:
            try:
                session.send("[[slow:20]] Tell me a long story.")
            except BaseException as exc:
                failure.append(exc)

        worker = threading.Thread(target=slow_turn)
        worker.start()
        wait_until(
            lambda: (
                scripted.main_requests()
                and "[[slow:20]]" in scripted.main_requests()[-1].user_texts()[-1]
            ),
            what="the slow turn to reach the model",
        )
        kill(backend_pids(provider), signal.SIGKILL)
        worker.join(timeout=60)
        assert failure and isinstance(failure[0], caw.BackendFailed), failure
        assert "SIGKILL" in str(failure[0]) or "exit" in str(failure[0])
        assert session.send("Where am I deploying?").result == "staging-eu"
        assert session.session_dir is not None
        stored = caw.Trajectory.model_validate_json(
            (session.session_dir / "trajectory.json").read_text()
        )
        # the killed turn is kept, marked failed with its error (protocol 1.2), never as an answer
        assert [(t.status, t.input) for t in stored.turns] == [
            ("completed", "My deploy target is staging-eu. Remember that."),
            ("failed", "[[slow:20]] Tell me a long story."),
            ("completed", "Where am I deploying?"),
        ]
        assert stored.turns[1].error is not None
        assert stored.turns[2].result == "staging-eu"
    finally:
        session.end()


def test_cancel_stops_the_turn_and_the_session_goes_on(provider, env, scripted):
    async def scenario() -> None:
        agent = AsyncAgent(provider=provider, env=env)
        session = await agent.start_session()
        try:
            await session.send("My pet is a heron. Remember that.")
            first_delta = asyncio.Event()
            sending = asyncio.create_task(
                session.send(
                    "[[slow:20]] Tell me a long story.", on_event=lambda e: first_delta.set()
                )
            )
            await asyncio.wait_for(first_delta.wait(), 60)
            assert await session.cancel()
            with pytest.raises(caw.TurnCancelled):
                await asyncio.wait_for(sending, 30)
            assert (await session.send("What is my pet?")).result == "a heron"
        finally:
            await session.end()

    asyncio.run(scenario())


def test_end_stops_the_backend(provider, env, scripted):
    session = Agent(provider=provider, env=env).start_session()
    session.send("Hello there.")
    assert backend_pids(provider)
    session.end()
    wait_until(lambda: not backend_pids(provider), what="the backend to exit after end()")


def test_providers_side_by_side(cli_env, scripted, tmp_path):
    """Sessions of all three providers run at the same time in one process."""
    results: dict[str, str] = {}

    def converse(name: str) -> None:
        with Agent(provider=name, env=cli_env(name)).start_session() as session:
            session.send(f"My provider is {name}-ok. Remember that.")
            results[name] = session.send("What is my provider?").result

    threads = [
        threading.Thread(target=converse, args=(name,))
        for name in ("claude_code", "codex", "opencode")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert results == {name: f"{name}-ok" for name in ("claude_code", "codex", "opencode")}
