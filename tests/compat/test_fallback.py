"""Provider fallback through the real CLIs: until a first turn has answered, a provider that
is not logged in or is rate-limited hands over to the next; after it, the session stays."""

from __future__ import annotations

import pytest

from caw import Agent, BackendFailed, UsageLimitReached
from caw.testing.script import Reply

pytestmark = pytest.mark.e2e


@pytest.fixture
def claude_then_codex(cli_env, require_cli):
    """One environment in which both claude and codex run against the scripted server."""
    require_cli("claude_code")
    require_cli("codex")
    return {**cli_env("claude_code"), **cli_env("codex")}


def limit_api(scripted, api: str, count: int = 1):
    """Answer the next ``count`` main requests of ``api`` with the usage-limit error."""
    left = [count]

    def responder(rec, reply: Reply):
        if rec.kind == "main" and rec.api == api and left[0] > 0:
            left[0] -= 1
            reply.fail_status, reply.fail_kind = 429, "usage_limit"
            return reply
        return None

    scripted.set_responder(responder)


def test_a_provider_not_logged_in_hands_over(claude_then_codex, scripted):
    env = {**claude_then_codex, "ANTHROPIC_API_KEY": ""}
    agent = Agent(["claude", "codex"], env=env)
    assert agent.provider == "claude_code"
    traj = agent.completion("Repeat after me: from the fallback")
    assert (traj.agent, traj.result) == ("codex", "from the fallback")


def test_a_rate_limited_provider_hands_over_without_waiting(claude_then_codex, scripted, tmp_path):
    limit_api(scripted, "anthropic", count=10)
    data = tmp_path / "data"
    agent = Agent(["claude", "codex"], data, env=claude_then_codex)
    traj = agent.completion("Repeat after me: hi")
    assert (traj.agent, traj.result) == ("codex", "hi")
    assert [r.api for r in scripted.main_requests()] == ["anthropic", "openai"]
    # Only the session that answered is in the data dir: claude's attempt left no folder.
    assert [p.name for p in (data / "sessions").iterdir()] == [traj.session_id]


def test_a_missing_cli_is_skipped_at_selection(claude_then_codex, scripted, tmp_path):
    env = {**claude_then_codex, "CAW_CLAUDE_BIN": str(tmp_path / "no-claude-here")}
    agent = Agent("claude,codex", env=env)
    assert agent.provider == "codex"
    assert agent.completion("Repeat after me: ok").agent == "codex"


def test_once_answered_the_session_stays_on_its_provider(claude_then_codex, scripted):
    agent = Agent(["claude", "codex"], env=claude_then_codex, auto_wait=False)
    with agent.start_session() as session:
        assert session.send("My colour is teal.").result == "Noted: colour is teal."
        limit_api(scripted, "anthropic")
        with pytest.raises(UsageLimitReached):
            session.send("What is my colour?")
        assert session.send("What is my colour?").result == "teal"
        assert session.provider == "claude_code"
    assert {r.api for r in scripted.main_requests()} == {"anthropic"}


def test_a_pinned_provider_does_not_fall_back(claude_then_codex, scripted):
    env = {**claude_then_codex, "ANTHROPIC_API_KEY": ""}
    with pytest.raises(BackendFailed) as caught:
        Agent("claude", env=env).completion("Repeat after me: no")
    assert "codex" not in str(caught.value)
    assert all(r.api != "openai" for r in scripted.main_requests())
