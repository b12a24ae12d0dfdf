import json

import pytest

from caw import Agent, InvalidHandle
from caw.handle import ResumeHandle, check_id, decode_handle

KEY = "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a"


def test_round_trip_is_exactly_the_documented_format():
    handle = ResumeHandle(provider="codex", session_id="s-1", resume_key=KEY)
    assert json.loads(handle.encode()) == {
        "version": 1,
        "provider": "codex",
        "session_id": "s-1",
        "resume_key": KEY,
    }
    assert decode_handle(handle.encode()) == handle


def test_repr_hides_the_key():
    handle = ResumeHandle(provider="codex", session_id="s-1", resume_key=KEY)
    assert KEY not in repr(handle) and KEY not in str(handle)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"provider": "codex", "session_id": "a", "resume_key": "b"}', "no 'version'"),
        (
            '{"version": 2, "provider": "codex", "session_id": "a", "resume_key": "b"}',
            "unsupported resume handle version 2",
        ),
        ('{"version": 1, "session_id": "a", "resume_key": "b"}', "no 'provider'"),
        ('{"version": 1, "provider": "codex", "resume_key": "b"}', "no 'session_id'"),
        ('{"version": 1, "provider": "codex", "session_id": "a"}', "no 'resume_key'"),
        (
            '{"version": 1, "provider": "codex", "session_id": "../x", "resume_key": "b"}',
            "'session_id' has an invalid shape",
        ),
        (
            '{"version": 1, "provider": "codex", "session_id": "a", "resume_key": "a/b"}',
            "'resume_key' has an invalid shape",
        ),
        (
            '{"version": 1, "provider": "codex", "session_id": "a", "resume_key": ".."}',
            "'resume_key' has an invalid shape",
        ),
        (
            '{"version": 1, "provider": "codex", "session_id": "a", "resume_key": "-rf"}',
            "'resume_key' has an invalid shape",
        ),
        (
            '{"version": 1, "provider": "codex", "session_id": 5, "resume_key": "b"}',
            "'session_id' must be a non-empty string",
        ),
    ],
)
def test_bad_handles_say_what_is_wrong(text, message):
    with pytest.raises(InvalidHandle, match=message):
        decode_handle(text)


def test_invalid_handle_is_a_value_error():
    with pytest.raises(ValueError, match="no 'version'"):
        decode_handle("{}")


@pytest.mark.parametrize(
    "value", ["..", ".", "a/b", "a\\b", "", "x" * 129, "a b", "-x", "a\x00b", "abc\n"]
)
def test_unsafe_ids(value):
    with pytest.raises(InvalidHandle):
        check_id(value, "id")


def test_unknown_provider_in_handle():
    handle = json.dumps({"version": 1, "provider": "gemini", "session_id": "a", "resume_key": "b"})
    with pytest.raises(InvalidHandle, match="unknown provider 'gemini'"):
        Agent(data_dir=None).core.read_handle(handle)


def test_provider_mismatch_names_both():
    handle = ResumeHandle(provider="codex", session_id="a", resume_key=KEY).encode()
    with pytest.raises(ValueError, match=r"'codex'.*'claude_code'"):
        Agent(provider="claude").core.read_handle(handle)


def test_unpinned_agent_follows_the_handle(monkeypatch):
    monkeypatch.delenv("CAW_PROVIDER", raising=False)
    handle = ResumeHandle(provider="codex", session_id="a", resume_key=KEY).encode()
    assert Agent().core.read_handle(handle).provider == "codex"


def test_a_chosen_provider_can_be_only_a_default(monkeypatch):
    """pinned=False (the daemon's case): the provider starts new sessions, a handle names its own."""
    monkeypatch.setenv("CAW_PROVIDER", "claude_code")
    handle = ResumeHandle(provider="codex", session_id="a", resume_key=KEY).encode()
    agent = Agent(provider="claude", pinned=False)
    assert not agent.core.pinned and agent.provider == "claude_code"
    assert agent.core.read_handle(handle).provider == "codex"
    assert Agent(provider="claude").core.pinned and Agent().core.pinned  # chosen: pinned
    with pytest.raises(AttributeError):
        agent.core.pinned = True  # type: ignore[misc]  # read-only: set it when constructing


@pytest.mark.parametrize(
    ("provider", "key"), [("claude_code", "nope"), ("codex", "ses_abc"), ("opencode", KEY)]
)
def test_key_shape_is_checked_per_provider(provider, key):
    handle = ResumeHandle(provider=provider, session_id="a", resume_key=key).encode()
    with pytest.raises(InvalidHandle):
        Agent().core.read_handle(handle)


def test_bare_id_without_data_dir_names_the_missing_data_dir():
    with pytest.raises(FileNotFoundError, match="no data_dir"):
        Agent().core.read_handle("some-session")


def test_bare_id_unknown_in_data_dir(tmp_path):
    with pytest.raises(LookupError, match="no session 'nope'"):
        Agent(data_dir=tmp_path).core.read_handle("nope")


def test_aliases_and_env(monkeypatch):
    assert Agent(provider="cc").provider == "claude_code"
    assert Agent(provider="claude").provider == "claude_code"
    monkeypatch.setenv("CAW_PROVIDER", "codex")
    assert Agent().provider == "codex"
    with pytest.raises(ValueError, match="unknown provider 'gpt'"):
        Agent(provider="gpt")
