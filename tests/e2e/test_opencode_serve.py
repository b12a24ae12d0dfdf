"""The opencode adapter through the real `opencode serve`, against the scripted model server.

Starting serve costs 1-4 s, so most tests here share one: they run on one
module-wide event loop (the provider, and so its serves, are per loop), in one
environment and directory, and an anchor session keeps that serve alive between
tests. Tests that need a serve of their own use another directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

import caw
from caw import AsyncAgent
from caw.providers import close_shared_providers, shared_provider
from caw.providers.opencode import ServeConversation
from caw.providers.opencode.options import serve_defaults
from caw.testing import cli_environment
from caw.titles import title_from_message
from caw.tools.wiring import edit_opencode_config
from tests.support.procs import descendants, kill
from tests.support.turns import one_hangs_while_another_answers, wait_for_request

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MODEL = "caw-scripted/caw-scripted-1"


def serve_pids(cwd: Path | None = None) -> list[int]:
    """The `opencode serve` processes this test process started (in ``cwd``, if given)."""
    pids = [
        pid
        for pid, cmd in descendants(os.getpid()).items()
        if "opencode" in cmd and " serve " in cmd
    ]
    if cwd is not None:
        pids = [pid for pid in pids if _cwd(pid) == str(cwd)]
    return sorted(pids)


def _cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


@pytest.fixture(scope="module")
def oc_env(model_server, tmp_path_factory) -> dict[str, str]:
    env = cli_environment("opencode", model_server.base_url, tmp_path_factory.mktemp("opencode"))
    env.pop("CAW_OPENCODE_MODE", None)
    # Declare the scripted model a reasoning model, so it has variants ("high", "max") for reasoning= to select.
    path = Path(env["XDG_CONFIG_HOME"]) / "opencode" / "opencode.json"
    config = json.loads(path.read_text())
    for model in config["provider"]["caw-scripted"]["models"].values():
        model["reasoning"] = True
    path.write_text(json.dumps(config))
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("work").resolve()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anchor(oc_env, workdir):
    """One session held open for the module, so its serve outlives each test."""
    session = await AsyncAgent(provider="opencode", env=oc_env, cwd=workdir).start_session()
    yield session
    await session.end()
    await close_shared_providers()


@pytest.fixture
def agent(oc_env, workdir, anchor) -> AsyncAgent:
    return AsyncAgent(provider="opencode", env=oc_env, cwd=workdir)


def environment_of(pid: int) -> dict[bytes, bytes]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        entries = [entry.partition(b"=") for entry in f.read().split(b"\0")]
    return {name: value for name, equals, value in entries if equals}


def shared_serve(anchor):
    conversation = anchor._conversation
    assert isinstance(conversation, ServeConversation)
    return conversation.serve


async def test_start_send_and_resume_in_process(agent, anchor, scripted):
    session = await agent.start_session()
    turn = await session.send("My deploy target is staging-eu. Remember that.")
    assert turn.result == "Noted: deploy target is staging-eu."
    assert turn.usage.input_tokens > 0 and turn.usage.output_tokens > 0
    handle = caw.decode_handle(session.resume_handle)
    assert handle.resume_key.startswith("ses_") and handle.resume_key != session.session_id
    await session.end()

    resumed = await AsyncAgent(provider="opencode", env=agent.env, cwd=agent.cwd).resume_session(
        session.resume_handle
    )
    assert (await resumed.send("Where am I deploying?")).result == "staging-eu"
    assert resumed.resume_key == handle.resume_key
    await resumed.end()
    # the history came from opencode: caw kept none (no data_dir)
    assert scripted.main_requests()[-1].user_texts() == [
        "My deploy target is staging-eu. Remember that.",
        "Where am I deploying?",
    ]
    assert serve_pids() == [shared_serve(anchor).pid]


async def test_sessions_share_one_serve_and_run_concurrently(agent, anchor, scripted, workdir):
    first, second = await agent.start_session(), await agent.start_session()
    assert serve_pids(workdir) == [shared_serve(anchor).pid]
    await one_hangs_while_another_answers(first, second, scripted)
    await first.end()
    await second.end()
    assert serve_pids(workdir) == [shared_serve(anchor).pid], "the anchor still holds the serve"


async def test_parallel_turns_do_not_mix(agent):
    sessions = [await agent.start_session() for _ in range(3)]

    async def converse(i: int, session) -> str:
        await session.send(f"My secret word is word-{i}. Remember that.")
        return (await session.send("What is my secret word?")).result

    answers = await asyncio.gather(*(converse(i, s) for i, s in enumerate(sessions)))
    assert answers == ["word-0", "word-1", "word-2"]
    for session in sessions:
        await session.end()


async def test_one_opencode_session_resumed_twice_keeps_each_answer_apart(agent, scripted):
    """opencode queues the second prompt, and then both blocking POSTs return the last answer."""
    first = await agent.start_session()
    await first.send("My pet is a heron. Remember that.")
    second = await agent.resume_session(first.resume_handle)
    slow = asyncio.create_task(first.send("[[slow:2]] Repeat after me: the first answer"))
    await wait_for_request(scripted, "[[slow:2]]")
    quick = await second.send("Repeat after me: the second answer")
    assert quick.result == "the second answer"
    assert (await asyncio.wait_for(slow, 30)).result == "the first answer"
    await first.end()
    await second.end()


async def test_a_stream_broken_off_and_retried_is_not_doubled(agent, scripted):
    broken: list[object] = []

    def cut_the_first_attempt(request, reply):
        if request.kind == "main" and not broken and "alpha" in request.user_texts()[-1]:
            broken.append(request)
            reply.cut, reply.slow = (
                True,
                2.0,
            )  # two deltas a second apart, then the connection drops
            return reply
        return None

    scripted.set_responder(cut_the_first_attempt)
    session = await agent.start_session()
    seen: list[caw.Event] = []
    turn = await session.send("Repeat after me: alpha beta gamma", on_event=seen.append)
    await session.end()
    assert broken and turn.result == "alpha beta gamma"
    replaced = [i for i, e in enumerate(seen) if getattr(e, "replace", False)]
    assert len(replaced) == 1 and replaced[0] > 0, (
        "the broken attempt streamed, then the retry replaced it"
    )


async def test_events_stream_as_deltas_with_thinking_tools_and_usage(agent, workdir):
    session = await agent.start_session()
    seen: list[caw.Event] = []
    # Spread over time, as a real model's: the turn ends with the POST's answer, which fills in
    # at once whatever the event stream has not delivered yet (with an instant model, all of it).
    turn = await session.send(
        "[[think]] [[slow:0.5]] Repeat after me: the quick brown fox jumps", on_event=seen.append
    )
    assert turn.result == "the quick brown fox jumps"
    kinds = [type(e).__name__ for e in seen]
    assert kinds.count("TextDelta") > 1 and "ThinkingDelta" in kinds
    assert kinds.index("ThinkingDelta") < kinds.index("TextDelta") < kinds.index("UsageUpdate")

    seen.clear()
    turn = await session.send("[[tool:bash:echo hello-from-tool]] Run it.", on_event=seen.append)
    await session.end()
    (tool,) = [b for b in turn.output if isinstance(b, caw.ToolUseBlock)]
    assert tool.name == "bash" and tool.input["command"] == "echo hello-from-tool"
    assert (tool.output or "").strip() == "hello-from-tool" and not tool.is_error
    assert turn.result == "Tool said: hello-from-tool"
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("ToolCall") < kinds.index("ToolResult") < kinds.index("TextDelta")


async def test_deny_mode_refuses_tools_and_the_turn_goes_on(oc_env, workdir, anchor, scripted):
    target = workdir / "created-by-the-agent"
    session = await AsyncAgent(
        provider="opencode", env=oc_env, cwd=workdir, permission_mode="deny"
    ).start_session()
    turn = await session.send(f"[[tool:bash:touch {target}]] Run it.")
    await session.end()
    (tool,) = [b for b in turn.output if isinstance(b, caw.ToolUseBlock)]
    assert tool.is_error and not target.exists()
    assert turn.result.startswith("Tool said: ") and "permission_mode='deny'" in turn.result


async def test_model_system_prompt_and_reasoning_reach_the_model(oc_env, workdir, anchor, scripted):
    agent = AsyncAgent(
        provider="opencode",
        env=oc_env,
        cwd=workdir,
        model=MODEL,
        system_prompt="You are caw-test-persona.",
        reasoning="high",
    )
    session = await agent.start_session()
    await session.send("Hello there.")
    await session.end()
    request = scripted.main_requests()[-1]
    assert request.model == "caw-scripted-1"
    assert "You are caw-test-persona." in request.system
    assert request.body["thinking"]["type"] == "enabled"
    # "low" is not a variant of this model: the nearest one ("high") is used
    scripted.clear()
    session = await AsyncAgent(
        provider="opencode", env=oc_env, cwd=workdir, model="caw-scripted-1", reasoning="low"
    ).start_session()
    await session.send("Hello again.")
    await session.end()
    assert scripted.main_requests()[-1].body["thinking"]["type"] == "enabled"


async def test_an_unknown_model_fails_at_start(agent, scripted):
    failing = AsyncAgent(
        provider="opencode", env=agent.env, cwd=agent.cwd, model="caw-scripted/no-such-model"
    )
    with pytest.raises(caw.BackendFailed, match="no model 'caw-scripted/no-such-model'"):
        await failing.start_session()
    assert not scripted.main_requests()


async def test_unknown_session_fails_at_resume_without_starting_one(agent, scripted):
    key = "ses_0123456789abcdefABCDEFghij"
    handle = caw.ResumeHandle(
        provider="opencode", session_id="0b6e4b5e-8c4f-4b7a-9a59-000000000000", resume_key=key
    ).encode()
    with pytest.raises(caw.BackendFailed, match="no session with this resume key") as caught:
        await agent.resume_session(handle)
    assert key not in str(caught.value)  # resume keys stay out of messages (and so out of logs)
    assert not scripted.main_requests()


@pytest.mark.parametrize(
    "bad_key", ["not-a-valid-key", "ses_../../x", "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a"]
)
async def test_a_malformed_key_is_an_invalid_handle(agent, bad_key):
    before = serve_pids()
    handle = json.dumps(
        {"version": 1, "provider": "opencode", "session_id": "abc", "resume_key": bad_key}
    )
    with pytest.raises(caw.InvalidHandle):
        await agent.resume_session(handle)
    assert serve_pids() == before


async def test_cancel_stops_the_turn_and_the_session_goes_on(agent, anchor, scripted):
    session = await agent.start_session()
    await session.send("My pet is a heron. Remember that.")
    streaming = asyncio.Event()
    sending = asyncio.create_task(
        session.send(
            "[[slow:5]] Repeat after me: one two three four five six seven eight",
            on_event=lambda e: streaming.set(),
        )
    )
    await asyncio.wait_for(streaming.wait(), 30)
    assert await session.cancel()
    with pytest.raises(caw.TurnCancelled) as caught:
        await asyncio.wait_for(sending, 30)
    assert caught.value.turn.stop_reason == "cancelled"
    assert "one two three four five six seven eight" not in caught.value.turn.result
    assert (await session.send("What is my pet?")).result == "a heron"
    assert serve_pids() == [shared_serve(anchor).pid], "an interrupt keeps the serve"
    await session.end()


async def test_the_serve_requires_its_password(anchor):
    serve = shared_serve(anchor)
    assert serve.base_url.startswith("http://127.0.0.1:")
    async with httpx.AsyncClient(trust_env=False) as client:
        assert (await client.get(f"{serve.base_url}/doc")).status_code == 401
        assert (
            await client.get(f"{serve.base_url}/session", auth=("opencode", "wrong"))
        ).status_code == 401
    assert (await serve.client.get("/session")).status_code == 200
    password = environment_of(serve.pid)[b"OPENCODE_SERVER_PASSWORD"]
    assert len(password) >= 32 and b"OPENCODE_SERVER_PASSWORD" not in b"".join(
        k.encode() for k in os.environ
    )


async def test_a_new_session_is_named_by_caw_and_opencode_makes_no_title_request(
    agent, anchor, scripted
):
    """opencode would ask the model for a title on a new session's first prompt (a second
    model request on the first answer's path); caw's own title reaches its session list."""
    message = "Fix the **tokenizer** in `lexer.py`, please.\nIt drops the last token."
    session = await agent.start_session()
    assert (await session.send(message)).result
    key = session.resume_key
    await session.end()  # waits for the title to reach serve
    assert [r.kind for r in scripted.requests] == ["main"], "no title (side) request"
    info = (await shared_serve(anchor).client.get(f"/session/{key}")).json()
    assert info["title"] == title_from_message(message) == "Fix the tokenizer in lexer.py, please."


async def test_a_new_session_carries_the_agent_and_model_its_first_prompt_would_record(
    agent, oc_env, workdir, anchor, scripted
):
    """caw creates a session with the agent and model opencode's first prompt would write to
    it (Session.setAgentModel on that prompt's path; issue 20): exactly those, so the prompt
    finds them equal; nothing else in the session changes: no message before the first
    prompt, the same model request as a session made without them."""
    serve = shared_serve(anchor)
    for model, reasoning, variant in ((None, None, "default"), (MODEL, "high", "high")):
        session = await AsyncAgent(
            provider="opencode", env=oc_env, cwd=workdir, model=model, reasoning=reasoning
        ).start_session()
        conversation = session._conversation
        assert isinstance(conversation, ServeConversation)
        key = conversation.resume_key  # the session's own: before its first turn
        made = (await serve.client.get(f"/session/{key}")).json()
        assert made["agent"] == "build"
        expected = {"id": "caw-scripted-1", "providerID": "caw-scripted", "variant": variant}
        assert made["model"] == expected
        assert (await serve.client.get(f"/session/{key}/message")).json() == []
        await session.send("Hello there.")
        after = (await serve.client.get(f"/session/{key}")).json()
        assert (after["agent"], after["model"]) == ("build", expected), "what opencode records"
        await session.end()

    scripted.clear()
    session = await agent.start_session()
    await session.send("Repeat after me: same request")
    await session.end()
    plain = (await serve.client.post("/session", json={})).json()["id"]  # as opencode makes one
    body = {"parts": [{"type": "text", "text": "Repeat after me: same request"}]}
    response = await serve.client.post(f"/session/{plain}/message", json=body, timeout=60)
    assert response.status_code == 200
    await serve.client.delete(f"/session/{plain}")
    first, second = scripted.main_requests()
    assert first.body == second.body


async def test_opencodes_own_snapshots_are_off_unless_the_session_asks_for_them(anchor):
    """caw's review and revert are its own (caw.changes); opencode's per-step snapshots of
    the work tree only cost time. A session's own OPENCODE_CONFIG_CONTENT can keep them."""
    config = (await shared_serve(anchor).client.get("/config")).json()
    assert config["snapshot"] is False
    content = json.loads(environment_of(shared_serve(anchor).pid)[b"OPENCODE_CONFIG_CONTENT"])
    assert content == {"snapshot": False}
    kept = edit_opencode_config({"OPENCODE_CONFIG_CONTENT": '{"snapshot": true}'}, serve_defaults)
    assert json.loads(kept["OPENCODE_CONFIG_CONTENT"]) == {"snapshot": True}


async def test_the_warm_up_loads_what_a_first_prompt_would(anchor):
    """Right after its start, serve is asked for its providers and its tool registry (in
    the background); the routes exist in this opencode and answer."""
    serve = shared_serve(anchor)
    await serve.warm_up()  # raises on a refused or missing route
    assert serve._providers and serve._config is not None


async def test_a_session_made_by_opencode_run_continues_through_serve(agent, scripted):
    out = await asyncio.to_thread(
        subprocess.run, [agent.env["PATH"].split(os.pathsep)[0] + "/opencode", "run", "--format", "json"],
        input="My boat is the Heron-7. Remember that.", env=agent.env, cwd=agent.cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    key = json.loads(out.stdout.splitlines()[0])["sessionID"]
    handle = caw.ResumeHandle(
        provider="opencode", session_id="5d0c7a36-56d2-4c8e-8a36-6a1d2f1d7c11", resume_key=key
    ).encode()
    session = await agent.resume_session(handle)
    assert (await session.send("What is my boat?")).result == "the Heron-7"
    await session.end()


# --- tests with a serve of their own ---------------------------------------------------------


@pytest.mark.asyncio(
    loop_scope="function"
)  # its own loop, so its own provider: aclose() spares the shared serve
async def test_resume_in_a_fresh_serve_answers_from_history_and_aclose_stops_it(
    oc_env, tmp_path, scripted
):
    try:
        session = await AsyncAgent(provider="opencode", env=oc_env, cwd=tmp_path).start_session()
        await session.send("My color is teal. Remember that.")
        (before,) = serve_pids(tmp_path)
        handle = session.resume_handle
        await session.end()
        assert not serve_pids(tmp_path), "the last conversation closed, so its serve stopped"
        scripted.clear()

        resumed = await AsyncAgent(provider="opencode", env=oc_env, cwd=tmp_path).resume_session(
            handle
        )
        (after,) = serve_pids(tmp_path)
        assert after != before
        assert (await resumed.send("What is my color?")).result == "teal"
        (request,) = scripted.main_requests()
        assert request.user_texts() == ["My color is teal. Remember that.", "What is my color?"]

        await shared_provider("opencode").aclose()
        assert not serve_pids(tmp_path) and not resumed.live
        await resumed.end()
    finally:
        await shared_provider("opencode").aclose()  # a failing test must not leave its serve behind


async def test_a_killed_serve_fails_every_running_turn_then_sessions_resume(
    oc_env, tmp_path, scripted
):
    agent = AsyncAgent(provider="opencode", env=oc_env, cwd=tmp_path)
    sessions = [await agent.start_session() for _ in range(2)]
    for i, session in enumerate(sessions):
        await session.send(f"My secret word is word-{i}. Remember that.")
    (server,) = serve_pids(tmp_path)
    turns = [
        asyncio.create_task(s.send(f"[[slow:20]] Story number {i}."))
        for i, s in enumerate(sessions)
    ]
    await wait_for_request(scripted, "[[slow:20]]", count=2)
    kill([server], signal.SIGKILL)
    for task in turns:
        with pytest.raises(caw.BackendFailed, match="SIGKILL") as caught:
            await asyncio.wait_for(task, 30)
        assert "opencode serve" in str(caught.value)
    assert not any(s.live for s in sessions)
    for i, session in enumerate(sessions):
        assert (await session.send("What is my secret word?")).result == f"word-{i}"
    (restarted,) = serve_pids(tmp_path)
    assert restarted != server
    for session in sessions:
        await session.end()
    assert not serve_pids(tmp_path)
