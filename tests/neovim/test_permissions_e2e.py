"""Permission questions in a real headless Neovim: the daemon asks (session/requestPermission)
before the real CLI runs a tool, the plugin shows a floating window with the command or the
diff, a typed key answers, and the effect is checked on disk.

The keys are typed with nvim_input, as a person types them; nothing in the plugin is stubbed
(the test only records each question the plugin shows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Editor, editor_env, make_workspace, wait_until

pytestmark = pytest.mark.e2e

TURN = 120.0  # seconds: one turn with a question on a busy 2-core machine

# Record each question the plugin shows (a spy: the real window still opens) and find
# the open question window.
_SPY = r"""
local permission = require('caw.permission')
local ask = permission.ask
_G.caw_test.asked = {}
permission.ask = function(params, on_choice)
  table.insert(_G.caw_test.asked, params)
  return ask(params, on_choice)
end
function _G.caw_test.question()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    local buf = vim.api.nvim_win_get_buf(win)
    if vim.b[buf].caw_permission then
      local cfg = vim.api.nvim_win_get_config(win)
      local function text(chunks)
        if type(chunks) == 'string' then return chunks end
        local out = {}
        for _, c in ipairs(chunks or {}) do out[#out + 1] = c[1] end
        return table.concat(out)
      end
      return {
        lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false),
        filetype = vim.bo[buf].filetype,
        focused = vim.api.nvim_get_current_win() == win,
        floating = cfg.relative ~= '',
        title = text(cfg.title),
        footer = text(cfg.footer),
        mode = vim.api.nvim_get_mode().mode,
      }
    end
  end
  return false
end
"""


def start(editors: Any, ws: Path, env: dict[str, str], **setup: Any) -> Editor:
    ed: Editor = editors(ws, env, setup)
    ed.lua(_SPY)
    return ed


def question(ed: Editor) -> dict[str, Any]:
    """Wait for the question window; it is a focused float with the four keys in its footer."""
    try:
        # :stopinsert takes effect before the next key is read, so wait for Normal mode too.
        shown: dict[str, Any] = ed.wait(
            "(function() local q = _G.caw_test.question() return q and q.mode == 'n' and q end)()",
            TURN,
            "a permission question",
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\n--- chat ---\n{ed.chat_text()}\n--- notes ---\n{ed.notes()}"
        ) from None
    assert shown["floating"] and shown["focused"] and shown["mode"] == "n", shown
    for key in (
        "[a] Allow once",
        "[c] Always for this chat",
        "[w] Always in this workspace",
        "[r] Reject",
    ):
        assert key in shown["footer"], shown
    return shown


def asked(ed: Editor) -> int:
    return int(ed.lua("return #_G.caw_test.asked"))


def answered(ed: Editor) -> None:
    """The window is gone and the turn is over."""
    ed.wait("not _G.caw_test.question()", 30, "the question window to close")
    ed.wait_idle(TURN)


def rules(state_file: Path, ws: Path) -> list[dict[str, str]]:
    data = json.loads(state_file.read_text())
    return list(data["workspaces"][str(ws)].get("rules", []))


@pytest.fixture
def env(cli_env, tmp_path) -> dict[str, str]:
    return editor_env(cli_env("claude_code"), tmp_path)


def test_claude_asks_in_a_float_and_keys_decide(editors, env, state_file, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ed = start(editors, ws, env, provider="claude_code")  # permission_mode: the default (ask)

    # Reject: the command does not run, and the model is told.
    ed.cmd("CawSend [[tool:bash:touch rejected.txt]] Run it.")
    shown = question(ed)
    assert shown["lines"] == ["$ touch rejected.txt"], shown
    assert "touch rejected.txt" in shown["title"] and "(execute)" in shown["title"], shown
    ed.nvim.input("r")
    answered(ed)
    assert not (ws / "rejected.txt").exists()
    told = ed.wait_text("Tool said:", TURN).rsplit("Tool said:", 1)[1]
    assert "reject" in told.lower(), told  # the model was told

    # Allow once: it runs, and the same command is asked again next time.
    ed.cmd("CawSend [[tool:bash:touch once.txt]] Run it.")
    question(ed)
    ed.nvim.input("a")
    answered(ed)
    assert (ws / "once.txt").exists()
    (ws / "once.txt").unlink()
    # Typed in the prompt (Insert mode): the question window takes the keys in Normal mode.
    assert ed.lua("return vim.api.nvim_buf_get_name(0)").startswith("caw-prompt://")
    ed.nvim.input("<Esc>A[[tool:bash:touch once.txt]] Again.<CR>")
    question(ed)
    ed.nvim.input("a")
    answered(ed)
    assert (ws / "once.txt").exists() and asked(ed) == 3

    # An edit is shown as a diff; "always for this chat" lets the next edit of it run unasked.
    ed.cmd("CawSend [[tool:write:notes.txt:hello from caw]] Write it.")
    shown = question(ed)
    assert shown["filetype"] == "diff", shown
    assert any(line.startswith("+++ b/") and line.endswith("notes.txt") for line in shown["lines"])
    assert "+hello from caw" in shown["lines"], shown
    ed.nvim.input("c")
    answered(ed)
    assert (ws / "notes.txt").read_text().strip() == "hello from caw"
    ed.cmd("CawSend [[tool:write:notes.txt:second version]] Write it again.")
    ed.wait_text("Tool said:", TURN, start=len(ed.chat_text()))
    ed.wait_idle(TURN)
    assert (ws / "notes.txt").read_text().strip() == "second version" and asked(ed) == 4

    # "Always in this workspace": kept in the state file, sent with the next session/start.
    ed.cmd("CawSend [[tool:bash:touch ws.txt]] Run it.")
    question(ed)
    ed.nvim.input("w")
    answered(ed)
    assert (ws / "ws.txt").exists()
    assert rules(state_file, ws) == [{"tool": "Bash", "pattern": "touch ws.txt", "action": "allow"}]
    ed.cmd("CawNew claude_code")
    ed.wait_text("new chat with Claude Code")
    ed.wait_idle()
    (ws / "ws.txt").unlink()
    ed.cmd("CawSend [[tool:bash:touch ws.txt]] Run it in the new chat.")
    ed.wait_text("Tool said:", TURN, start=ed.chat_text().index("new chat with"))
    ed.wait_idle(TURN)
    assert (ws / "ws.txt").exists() and asked(ed) == 5

    # A new Neovim resumes that chat with the workspace's rules: still unasked.
    assert ed.quit() == 0
    ed2 = start(editors, ws, env, provider="claude_code")
    ed2.cmd("Caw")
    ed2.wait_text("Run it in the new chat.")
    ed2.wait_idle()
    (ws / "ws.txt").unlink()
    before = len(ed2.chat_text())
    ed2.cmd("CawSend [[tool:bash:touch ws.txt]] Once more.")
    ed2.wait_text("Tool said:", TURN, start=before)
    ed2.wait_idle(TURN)
    assert (ws / "ws.txt").exists() and asked(ed2) == 0

    # Another command is still asked; :CawCancel while it waits closes the window, nothing runs.
    ed2.cmd("CawSend [[tool:bash:touch cancelled.txt]] Run it.")
    question(ed2)
    ed2.cmd("CawCancel")
    ed2.wait("not _G.caw_test.question()", 30, "the question window to close on cancel")
    ed2.wait_idle(TURN)
    assert not (ws / "cancelled.txt").exists()


def test_bypass_runs_tools_unasked(editors, env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ed = start(editors, ws, env, provider="claude_code", permission_mode="bypass")
    ed.cmd("CawSend [[tool:bash:touch bypass.txt]] Run it.")
    ed.wait_text("Tool said:", TURN)
    ed.wait_idle(TURN)
    assert (ws / "bypass.txt").exists() and asked(ed) == 0


def test_a_bad_permission_mode_is_a_clear_error(editors, env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ed: Editor = editors(ws, env, {})
    message = ed.lua(
        "local ok, err = pcall(require('caw').setup, { permission_mode = 'yolo' }) return err"
    )
    assert "permission_mode must be one of 'ask', 'bypass', 'deny'" in message, message


@pytest.mark.parametrize("provider", ["codex", "opencode"])
def test_other_providers_ask_too(editors, cli_env, tmp_path, provider):
    ws = make_workspace(tmp_path / "ws")
    cli = cli_env(provider)
    env = editor_env(cli, tmp_path)
    # opencode finds its configuration (the scripted model server) through XDG dirs, which
    # the editor's private environment replaces: the daemon (and so the CLI) gets the CLI's.
    xdg = {k: v for k, v in cli.items() if k.startswith("XDG_")}
    ed = start(editors, ws, env, provider=provider, cmd_env=xdg or None)
    ed.cmd("CawSend [[tool:bash:touch rejected.txt]] Run it.")
    shown = question(ed)
    assert any("touch rejected.txt" in line for line in shown["lines"]), shown
    ed.nvim.input("r")
    answered(ed)
    assert not (ws / "rejected.txt").exists()

    ed.cmd("CawSend [[tool:bash:touch allowed.txt]] Run it.")
    question(ed)
    ed.nvim.input("a")
    answered(ed)
    wait_until(lambda: (ws / "allowed.txt").exists(), 10, what="allowed.txt")

    # Typed in the prompt, "always for this chat": the same command then runs unasked in this
    # chat, and a new chat (for opencode: a new session of the same serve process) asks again.
    ed.nvim.input("<Esc>A[[tool:bash:touch chat.txt]] Run it.<CR>")
    question(ed)
    ed.nvim.input("c")
    answered(ed)
    wait_until(lambda: (ws / "chat.txt").exists(), 10, what="chat.txt")
    (ws / "chat.txt").unlink()
    before = len(ed.chat_text())
    ed.cmd("CawSend [[tool:bash:touch chat.txt]] Again.")
    ed.wait_text("Tool said:", TURN, start=before)
    ed.wait_idle(TURN)
    assert (ws / "chat.txt").exists() and asked(ed) == 3
    (ws / "chat.txt").unlink()
    first = ed.lua("return _G.caw_test.chat().session_id")
    ed.cmd(f"CawNew {provider}")
    ed.wait(
        "_G.caw_test.chat().session_id ~= nil and _G.caw_test.chat().session_id ~= ...",
        TURN,
        "the new chat",
        first,
    )
    ed.wait_idle(TURN)
    ed.cmd("CawSend [[tool:bash:touch chat.txt]] In a new chat.")
    question(ed)
    ed.nvim.input("r")
    answered(ed)
    assert not (ws / "chat.txt").exists() and asked(ed) == 4


def test_an_unanswered_question_times_out_and_its_window_closes(editors, env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ed = start(editors, ws, env, provider="claude_code", init_options={"permissionTimeout": 2})
    # Record the daemon's withdrawals ($/cancelRequest) and whether they matched the open question.
    ed.lua(
        """
        require('caw.chat') -- it sets daemon.on_withdraw: wrap that one
        local daemon = require('caw.daemon')
        local withdraw = daemon.on_withdraw
        _G.caw_test.withdrawn = {}
        daemon.on_withdraw = function(client_id, ordinal)
          local chat = require('caw.chat').get(require('caw').root())
          local open = {}
          for _, q in ipairs(chat.questions) do open[#open + 1] = q.ordinal end
          table.insert(_G.caw_test.withdrawn, { ordinal = ordinal, open = open })
          return withdraw(client_id, ordinal)
        end
        """
    )
    ed.cmd("CawSend [[tool:bash:touch late.txt]] Run it.")
    question(ed)
    ed.wait("#_G.caw_test.withdrawn > 0", 30, "the daemon to withdraw the question")
    ed.wait("not _G.caw_test.question()", 30, "the question window to close")
    assert ed.lua("return _G.caw_test.withdrawn") == [{"ordinal": 1, "open": [1]}]
    told = ed.wait_text("Tool said:", TURN).rsplit("Tool said:", 1)[1]
    assert "reject" in told.lower(), told
    ed.wait_idle(TURN)
    assert not (ws / "late.txt").exists()
