"""``caw chat`` in a pseudo-terminal (pexpect) and in a pipe, through the real claude CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.e2e

PROMPT = "›"  # prompt_toolkit moves the cursor instead of printing the space
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def env(cli_env, require_cli, tmp_path):
    require_cli("claude_code")
    return {
        **cli_env("claude_code"),
        "TERM": "xterm-256color",
        "PROMPT_TOOLKIT_NO_CPR": "1",  # pexpect answers no cursor-position requests
        "CAW_DATA_DIR": str(tmp_path / "data"),
    }


def spawn(env: dict[str, str], cwd: Path, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable, ["-m", "caw.cli", "chat", *args], env=env, cwd=str(cwd),
        encoding="utf-8", timeout=90, dimensions=(40, 120),
    )  # fmt: skip
    child.logfile_read = (cwd / "chat.log").open("a")  # kept for a failure's diagnosis
    return child


def say(child: pexpect.spawn, line: str, expect: str) -> None:
    child.expect_exact(PROMPT)
    child.sendline(line)
    child.expect(expect)


def test_a_chat_turn_ctrl_c_new_and_resume_on_return(env, scripted, tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    child = spawn(env, work, "--provider", "claude_code")
    try:
        child.expect("new chat")
        say(child, "My deploy target is staging-eu.", "Noted: deploy target is staging-eu")

        # Ctrl-C during a slow turn cancels it, and the chat goes on
        child.expect_exact(PROMPT)
        child.sendline("[[slow:30]] Repeat after me: this is a very slow answer")
        scripted.wait_for_request(
            lambda r: r.kind == "main" and any("very slow answer" in t for t in r.user_texts()),
            timeout=60,
        )
        child.sendintr()
        child.expect(r"turn cancelled", timeout=30)
        say(child, "Where am I deploying?", "staging-eu")

        # a terminal chat asks before a tool runs (the default mode there is ask)
        say(child, "[[tool:bash:touch approved.txt]] run it", r"wants to run: touch approved.txt")
        child.expect(r"allow\?")
        assert not (work / "approved.txt").exists()
        child.sendline("y")
        child.expect("Tool said:")
        assert (work / "approved.txt").exists()

        # /new starts a fresh conversation that knows nothing
        say(child, "/new", "new chat")
        say(child, "Where am I deploying?", "I don't know")
        say(child, "My colour is teal.", "Noted: colour is teal")
        say(child, "/cost", r"2 turns: \d+ in")

        # Ctrl-C twice at the prompt leaves
        child.expect_exact(PROMPT)
        child.sendintr()
        child.expect("again")
        child.expect_exact(PROMPT)  # the prompt is back (the tty in raw mode again)
        child.sendintr()
        child.expect("bye")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0

    # Back in the same directory: the last chat (the /new one) resumes
    child = spawn(env, work)
    try:
        child.expect("resumed chat")
        say(child, "What is my colour?", "teal")
        child.expect_exact(PROMPT)
        child.sendline("/exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    history = list((Path(env["XDG_STATE_HOME"]) / "caw" / "chat-history").iterdir())
    assert len(history) == 1 and "What is my colour?" in history[0].read_text()


def test_a_pipe_gets_plain_text(env, scripted, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "caw.cli", "chat", "--new", "--permission-mode", "bypass"],
        input="My deploy target is staging-eu.\n[[tool:bash:echo hello]] run it\n/cost\nWhere am I deploying?\n",
        env={k: v for k, v in env.items() if k != "TERM"}, cwd=tmp_path, capture_output=True,
        text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert not ANSI.search(out.stdout), out.stdout
    lines = out.stdout.splitlines()
    assert "› Noted: deploy target is staging-eu." in lines
    assert "› ⏺ Bash(echo hello)" in lines and "  ⎿ hello" in lines and "Tool said: hello" in lines
    assert "› staging-eu" in lines
    assert any("2 turns:" in line and "cost $" in line for line in lines)


def test_slash_commands_in_a_pipe(env, scripted, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "caw.cli", "chat", "--new"],
        input="My colour is teal.\n/export moved.json\n/new\n/resume\n1\nWhat is my colour?\n"
        "/provider\n/model\n/bogus\n/help\n",
        env={k: v for k, v in env.items() if k != "TERM"}, cwd=tmp_path, capture_output=True,
        text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "exported" in text and (tmp_path / "moved.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "moved.json").read_text())["format"] == "caw-session-bundle"
    assert "  1. My colour is teal.  [claude_code, 1 turns]" in text
    assert "resumed chat 'My colour is teal.'" in text
    assert "› teal" in text.splitlines()
    assert "provider: claude_code" in text and "model: " in text
    assert "unknown command /bogus" in text and "/resume [N|ID]" in text
