"""Option values never become flags, and prompts stay off argv (issue 21, findings 5 and 7).

Finding 5: ``model`` and ``reasoning`` reach claude, ``codex exec`` and ``opencode run`` on
argv. A value that starts with ``-`` is refused before any session exists (library and
daemon, every CLI and mode), and every adapter joins values to their flags
(``--model=VALUE``), so a value is never a word of its own.

Finding 7: every local user can read a process's argv in /proc. Prompts (the message and
the system prompt) go on stdin, in a 0600 file or in JSON over a pipe, never on argv; a
prompt over 128 KiB (argv's limit for one word) works on codex exec. Where a CLI takes the
resume key on argv only, the test names the exception (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

from caw import AsyncAgent
from caw.client import RpcError
from caw.providers import close_shared_providers
from caw.providers.base import ConversationOptions
from caw.providers.claude_code.options import argv as claude_argv
from caw.providers.codex.exec import ExecConversation
from caw.providers.opencode.run import RunConversation
from tests.support.procs import descendants

from .conftest import TURN

pytestmark = pytest.mark.reliability("argv")

# (provider, mode variable, mode): every CLI in every mode caw drives it in.
MODES = [
    ("claude_code", None, "stream-json"),
    ("codex", "CAW_CODEX_MODE", "app-server"),
    ("codex", "CAW_CODEX_MODE", "exec"),
    ("opencode", "CAW_OPENCODE_MODE", "serve"),
    ("opencode", "CAW_OPENCODE_MODE", "run"),
]
HOSTILE = ["--auto", "--file=/etc/passwd", "-m", " --auto", "-", "a\n--auto", ""]


def _mode_id(mode: tuple[str, str | None, str]) -> str:
    return f"{mode[0]}-{mode[2]}"


@pytest.mark.parametrize("mode", MODES, ids=_mode_id)
@pytest.mark.parametrize("argument", ["model", "reasoning"])
@pytest.mark.parametrize("value", HOSTILE, ids=repr)
async def test_a_value_that_reads_as_a_flag_is_refused_before_anything_starts(
    mode, argument, value, tmp_path
):
    provider, variable, name = mode
    env = {variable: name} if variable else {}
    with pytest.raises(ValueError, match=f"{argument} .*not accepted"):
        AsyncAgent(
            provider=provider,
            env=env,
            cwd=tmp_path,
            data_dir=tmp_path / "data",
            **{argument: value},
        )
    with pytest.raises(ValueError, match="not accepted"):
        _options(argument, value)
    assert not (tmp_path / "data").exists()


def _options(argument: str, value: str) -> ConversationOptions:
    if argument == "model":
        return ConversationOptions(session_id="s", cwd="/w", model=value)
    return ConversationOptions(session_id="s", cwd="/w", reasoning=value)


def _argvs(options: ConversationOptions) -> dict[str, list[str]]:
    return {
        "claude": claude_argv("claude", options, "/private/prompt.md"),
        "codex exec": ExecConversation("codex", {}, options, None)._argv(),
        "codex exec resume": ExecConversation(
            "codex", {}, options, "01a2139e-e111-74b1-bd1b-c7b72a68d453"
        )._argv(),
        "opencode run": RunConversation("opencode", options, "ses_abc")._argv(),
    }


@pytest.mark.parametrize("argument", ["model", "reasoning"])
def test_every_argv_value_is_joined_to_its_flag(argument):
    """A value that passes the check still never stands as a word of its own."""
    value = "x-high/odd value"
    options = _options(argument, value)
    for cli, argv in _argvs(options).items():
        words = [w for w in argv if value in w]
        assert words, f"{cli}: {argument} is not passed"
        assert all(w != value and w.startswith(("--", "model_reasoning_effort=")) for w in words), (
            cli,
            words,
        )


async def test_the_daemon_refuses_a_flag_as_a_model(all_env, scripted, leaks, tmp_path):
    """session/start {model: "--file=/path/secret"} is invalidParams; no session is listed."""
    client = await leaks.daemon(tmp_path / "data", all_env, tmp_path)
    try:
        await client.initialize()
        for provider in ("claude_code", "codex", "opencode"):
            for params in ({"model": "--file=/etc/passwd"}, {"reasoning": "--auto"}):
                with pytest.raises(RpcError) as refused:
                    await client.start_session(provider=provider, **params)
                leaks.error(refused.value)
                assert refused.value.kind == "invalidParams", refused.value
        assert await client.list_sessions() == []
    finally:
        await client.aclose()


def _argv_words(root: int) -> list[str]:
    words = []
    for pid in descendants(root):
        with contextlib.suppress(OSError):  # it ended meanwhile
            words += (
                Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
            )
    return words


@pytest.mark.e2e
@pytest.mark.parametrize("mode", MODES, ids=_mode_id)
async def test_prompts_are_never_on_argv(mode, cli_env, scripted, tmp_path, record_property):
    """A 216 kB message and a system prompt, sent while every backend's argv is sampled:
    neither appears in any argv; the model got the message whole (codex exec took it on
    stdin)."""
    provider, variable, name = mode
    env = cli_env(provider)
    if variable:
        env[variable] = name
    marker = "caw-argv-persona-7c1e"
    message_marker = "argv-message-marker-93b2"
    big = ("lorem ipsum " * 18_000).strip()  # 216 kB: over argv's 128 KiB limit for one word
    agent = AsyncAgent(provider=provider, env=env, cwd=tmp_path, system_prompt=f"You are {marker}.")
    session = await agent.start_session()
    seen: set[str] = set()
    keys_on_argv = False
    try:
        turn_task = asyncio.ensure_future(
            # a question with no fact to answer it: a short answer to a long prompt
            session.send(f"[[slow:1]] {message_marker} {big}?")
        )
        while not turn_task.done():
            words = _argv_words(os.getpid())
            seen |= {"system prompt" for w in words if marker in w}
            seen |= {"message" for w in words if message_marker in w}
            keys_on_argv |= bool(session.resume_key) and session.resume_key in words
            await asyncio.sleep(0.05)  # sampling /proc while the turn runs: nothing to wait for
        turn = await asyncio.wait_for(turn_task, TURN)
        assert turn.result == "I don't know."
        assert scripted.main_requests()[-1].user_texts()[-1].endswith(f"{message_marker} {big}?")
        assert any(marker in r.system for r in scripted.main_requests())
        second = await asyncio.wait_for(session.send("Repeat after me: again"), TURN)
        assert second.result == "again"
        keys_on_argv |= session.resume_key in _argv_words(os.getpid())
    finally:
        await session.end()
        await close_shared_providers()
    record_property("on_argv", sorted(seen) + (["resume key"] if keys_on_argv else []))
    # codex exec has no file or stdin for developer instructions (only `-c
    # developer_instructions=...`; model_instructions_file replaces codex's own prompt): the
    # documented exception of the per-turn fallback. The message is on stdin everywhere.
    assert seen == ({"system prompt"} if name == "exec" else set()), seen
    if name in ("app-server", "serve"):
        assert not keys_on_argv  # the server modes take the key over their pipe / HTTP
