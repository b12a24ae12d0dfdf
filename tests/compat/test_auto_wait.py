"""Auto-wait on usage limits, every provider through its real CLI: the scripted server answers
the first model request with the API's usage-limit error; caw reads the wait from the CLI's
message, waits (the sleep is shortened here) and sends the turn again."""

from __future__ import annotations

import threading

import pytest

import caw.usage_limits as usage_limits
from caw import Agent, UsageLimitReached
from caw.testing.script import Reply

pytestmark = pytest.mark.e2e


def limit_first_request(scripted):
    """Answer the first main request with the usage-limit error, the rest normally."""
    done = threading.Event()

    def responder(rec, reply: Reply):
        if rec.kind == "main" and not done.is_set():
            done.set()
            reply.fail_status, reply.fail_kind = 429, "usage_limit"
            return reply
        return None

    scripted.set_responder(responder)


@pytest.fixture
def waits(monkeypatch):
    """The minutes auto-wait slept for (without sleeping them)."""
    slept: list[float] = []

    async def fake_sleep(minutes: float) -> None:
        slept.append(minutes)

    monkeypatch.setattr(usage_limits, "sleep_minutes", fake_sleep)
    return slept


def test_usage_limit_without_auto_wait_carries_wait_minutes(provider, cli_env, scripted, waits):
    limit_first_request(scripted)
    agent = Agent(provider, auto_wait=False, env=cli_env(provider))
    with agent.start_session() as session, pytest.raises(UsageLimitReached) as caught:
        session.send("Repeat after me: still here")
    assert isinstance(caught.value.wait_minutes, int) and caught.value.wait_minutes >= 1
    assert waits == []


def test_auto_wait_waits_then_sends_the_turn_again(provider, cli_env, scripted, waits):
    limit_first_request(scripted)
    seen: list = []
    agent = Agent(provider, env=cli_env(provider), on_event=seen.append)
    with agent.start_session() as session:
        turn = session.send("Repeat after me: still here")
    assert turn.result == "still here"
    assert len(waits) == 1 and waits[0] >= 1
    assert [e.wait_minutes for e in seen if getattr(e, "kind", "") == "usageLimitWait"] == [
        int(waits[0])
    ]


def test_caw_autowait_0_turns_it_off(provider, cli_env, scripted, waits, monkeypatch):
    monkeypatch.setenv("CAW_AUTOWAIT", "0")
    limit_first_request(scripted)
    session = Agent(provider, env=cli_env(provider)).start_session()
    with session, pytest.raises(UsageLimitReached):
        session.send("Repeat after me: still here")
    assert waits == []


def test_check_limit(provider, cli_env, scripted):
    agent = Agent(provider, env=cli_env(provider))
    assert agent.check_limit() is None
    limit_first_request(scripted)
    minutes = agent.check_limit()
    assert isinstance(minutes, int) and minutes >= 1


def test_stream_shows_the_wait_and_then_the_answer(provider, cli_env, scripted, waits):
    limit_first_request(scripted)
    with Agent(provider, env=cli_env(provider)).start_session() as session:
        kinds = [getattr(event, "kind", "") for event in session.stream("Repeat after me: again")]
        assert session.last_turn is not None and session.last_turn.result == "again"
    # (claude streams its error text before the wait; the answer's text comes after it)
    assert kinds.count("usageLimitWait") == 1
    assert "text" in kinds[kinds.index("usageLimitWait") + 1 :]
