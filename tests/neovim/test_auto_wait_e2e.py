"""Auto-wait in the Neovim chat, as a user types it: the real caw-server and `claude` CLI, the
scripted model server answering the first model request with the API's usage-limit error
(tests/compat/test_auto_wait.py's ``limit_first_request``).

With ``auto_wait = true`` the chat shows until when the daemon waits (local time) in place of
"working…", the cancel key ends the wait, and the resent answer follows a short note. With
auto-wait off the failure names the setting, live and as a new Neovim shows it from the
history. The daemon's protocol side is
tests/compat/test_daemon_auto_wait.py.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.compat.test_auto_wait import limit_first_request
from tests.compat.test_daemon_auto_wait import FAST_SLEEP

from .conftest import editor_env, make_workspace
from .test_chat_keys_e2e import focus_chat

pytestmark = pytest.mark.e2e

# Neovim's local time is not UTC here, so the line proves it converts the daemon's UTC time.
ZONE = "Asia/Kolkata"  # UTC+05:30, no daylight saving time
SETUP = {"provider": "claude_code", "permission_mode": "bypass", "auto_wait": True}
TURN = 120.0
WAITING = re.compile(
    r"^_Usage limit reached — waiting until (\d\d:\d\d) \(about ((?:\d+ h)?(?: ?\d+ min)?)\), "
    r"then sending again\. "
    r"`<C-c>` stops waiting\._$",
    re.M,
)
STOPPED = "_Stopped waiting for the usage limit to reset: the message was not sent again._"


@pytest.fixture
def env(cli_env, tmp_path) -> dict[str, str]:
    env = editor_env(cli_env("claude_code"), tmp_path)
    env.pop("CAW_AUTOWAIT", None)  # the plugin's setting decides
    env["TZ"] = ZONE
    return env


def minutes_of(about: str) -> int:
    """ "1 h 5 min" -> 65."""
    hours = re.search(r"(\d+) h", about)
    minutes = re.search(r"(\d+) min", about)
    return (int(hours.group(1)) * 60 if hours else 0) + (int(minutes.group(1)) if minutes else 0)


def busy_text(ed) -> str | None:
    return ed.lua(
        "return require('caw.render').busy_text(vim.fn.bufnr('caw://' .. require('caw').root()))"
    )


def test_the_chat_shows_the_wait_and_the_cancel_key_ends_it(editors, env, tmp_path, scripted):
    limit_first_request(scripted)
    ed = editors(make_workspace(tmp_path / "ws"), env, SETUP)
    ed.cmd("Caw")
    ed.wait("vim.api.nvim_get_mode().mode == 'i'")
    ed.nvim.input("Repeat after me: still here<CR>")
    text = ed.wait_text("_Usage limit reached — waiting until", TURN)
    seen = datetime.now(ZoneInfo(ZONE))
    [(until, about)] = WAITING.findall(text) or pytest.fail(text)
    minutes = minutes_of(about)
    assert minutes >= 1
    # The clock is Neovim's local time of the reset: now + the minutes it says (rounded up).
    expected = seen + timedelta(minutes=minutes)
    shown = expected.replace(hour=int(until[:2]), minute=int(until[3:]))
    assert abs((shown - expected).total_seconds()) <= 120, (until, minutes, seen)
    # The wait's line stands in for "working…"; the first attempt's streamed error is gone.
    assert busy_text(ed) is None
    waiting = WAITING.search(text)
    assert waiting is not None and text.rstrip().endswith("## Claude Code\n\n" + waiting[0]), text
    assert ed.lua("return _G.caw_test.chat().sending")

    # <C-c> in the prompt (Insert mode, where the message was typed) stops waiting.
    ed.nvim.input("<C-c>")
    text = ed.wait_text(STOPPED, 60)
    ed.wait_idle()
    assert WAITING.search(text) is None and busy_text(ed) is None
    assert not ed.lua("return _G.caw_test.chat().sending")
    # The chat goes on: `gr` sends the message that was not sent again (the limit is over).
    focus_chat(ed)
    ed.nvim.input("gr")
    ed.wait_text(
        STOPPED + "\n\n## You\n\nRepeat after me: still here\n\n## Claude Code\n\nstill here", TURN
    )
    ed.wait_idle()
    assert ed.chat_text().count(STOPPED) == 1


def test_the_resent_answer_follows_a_short_note(editors, env, tmp_path, scripted):
    # The daemon's wait returns at once (FAST_SLEEP, loaded through the plugin's cmd_env),
    # recording the minutes it would have slept.
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(FAST_SLEEP)
    sleeps = tmp_path / "sleeps.jsonl"
    pythonpath = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
    setup = {**SETUP, "cmd_env": {"PYTHONPATH": pythonpath, "CAW_TEST_SLEEPS": str(sleeps)}}
    limit_first_request(scripted)
    ed = editors(make_workspace(tmp_path / "ws"), env, setup)
    ed.cmd("CawSend Repeat after me: still here")
    text = ed.wait_text("then sent again_\n\nstill here", TURN)
    ed.wait_idle()
    text = ed.chat_text()
    note = re.search(
        r"^## Claude Code\n\n_usage limit: waited until (\d\d:\d\d), then sent again_\n\nstill here",
        text,
        re.M,
    )
    assert note, text
    assert WAITING.search(text) is None and busy_text(ed) is None
    [slept] = [json.loads(line) for line in Path(sleeps).read_text().splitlines()]
    assert slept >= 1
    # Only the answer's turn is in the chat: the first attempt's error text is not.
    assert "limit reached" not in text.lower().replace("usage limit: waited", "")


def test_without_auto_wait_the_failure_names_the_setting(editors, env, tmp_path, scripted):
    limit_first_request(scripted)
    ws = make_workspace(tmp_path / "ws")
    ed = editors(ws, env, {**SETUP, "auto_wait": False})
    ed.cmd("CawSend Repeat after me: still here")
    text = ed.wait_text("`auto_wait = true` in setup() waits for the reset and sends again", TURN)
    ed.wait_idle()
    assert re.search(
        r"^> \*\*error:\*\* .*limit.*\(`auto_wait = true` in setup\(\)", text, re.M | re.I
    ), text
    assert "_Usage limit reached — waiting" not in text
    assert text.count("you have reached your usage limit") == 1, text  # not the CLI's copy too

    # A new Neovim shows the stored failed turn (the daemon's record: kind usageLimit) the
    # same way: the hint too, not only a live failure.
    ed.nvim.input("<Esc>:qa<CR>")
    assert ed.proc.wait(30) == 0
    ed2 = editors(ws, env, {**SETUP, "auto_wait": False})
    ed2.nvim.input(":Caw<CR>")
    text = ed2.wait_text("`auto_wait = true` in setup() waits for the reset and sends again", TURN)
    ed2.wait_idle(TURN)
    text = ed2.chat_text()
    assert re.search(
        r"^> \*\*error:\*\* .*limit.*\(`auto_wait = true` in setup\(\)", text, re.M | re.I
    ), text
    assert "## You\n\nRepeat after me: still here" in text, text
    assert text.count("you have reached your usage limit") == 1, text
