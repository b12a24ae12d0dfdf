"""The whole path through a real headless Neovim: the plugin, Neovim's LSP client,
the real caw-server, the real `claude` CLI and the scripted model server.

Every wait polls for an event (text in the chat buffer, a process gone); the
only timing is the scripted model's own ``[[slow:N]]`` streaming.
"""

from __future__ import annotations

import json
import stat

import pytest

from tests.support.procs import alive, descendants, kill, matching

from .conftest import editor_env, make_workspace, wait_until

pytestmark = pytest.mark.e2e

SETUP = {"provider": "claude_code"}
FACT = "My deploy target is staging-eu. Remember that."
NOTED = "Noted: deploy target is staging-eu."
QUESTION = "Where am I deploying?"


@pytest.fixture
def env(cli_env, tmp_path) -> dict[str, str]:
    """claude pointed at the scripted model server, in a private XDG world."""
    return editor_env(cli_env("claude_code"), tmp_path)


def daemons(ed) -> list[int]:
    return matching("caw-server", root=ed.pid)


def answer_after(ed, question: str, answer: str) -> str:
    """Wait until the chat shows ``answer`` as the reply to ``question``."""
    return ed.wait_text(f"## You\n\n{question}\n\n## Claude Code\n\n{answer}")


def test_chat_survives_quitting_neovim(editors, env, state_file, tmp_path, scripted):
    ws = make_workspace(tmp_path / "ws")
    ed = editors(ws, env, SETUP)
    ed.cmd("Caw")
    assert ed.lua("return vim.fn.bufwinid(vim.fn.bufnr('caw://' .. require('caw').root()))") != -1
    # The cursor waits in the prompt under the chat, in Insert mode.
    assert ed.lua("return vim.api.nvim_buf_get_name(0)").startswith("caw-prompt://")
    ed.wait("vim.api.nvim_get_mode().mode == 'i'")

    # Typed into the prompt under the chat (<CR> sends).
    ed.nvim.input(f"{FACT}<CR>")
    answer_after(ed, FACT, NOTED)
    ed.wait_idle()
    ed.nvim.input("<Esc>")

    # The turn was reported through LSP work-done progress, visible in vim.lsp.status().
    progress = ed.lua("return _G.caw_test.progress")
    kinds = [p["kind"] for p in progress]
    assert kinds[0] == "begin" and kinds[-1] == "end", kinds
    assert any("caw" in p["status"] for p in progress), progress
    # The daemon is Neovim's LSP client named caw, for this workspace.
    assert ed.lua(
        "return vim.tbl_map(function(c) return c.root_dir end, vim.lsp.get_clients({ name = 'caw' }))"
    ) == [str(ws)]

    # The state file is private and holds this workspace's chat with its handle.
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    data = json.loads(state_file.read_text())
    entry = data["workspaces"][str(ws)]
    chat = entry["chats"][0]
    assert entry["current"] == chat["sessionId"] and chat["provider"] == "claude_code"
    assert chat["title"] == FACT
    handle = json.loads(chat["handle"])
    assert handle["provider"] == "claude_code" and handle["session_id"] == chat["sessionId"]

    pids = daemons(ed)
    assert len(pids) == 1
    assert ed.quit() == 0
    wait_until(lambda: not any(alive(p) for p in pids), 30, what="the daemon to end with Neovim")

    # A new Neovim in the same workspace: :Caw resumes the chat and shows the earlier turns.
    ed2 = editors(ws, env, SETUP)
    ed2.cmd("Caw")
    text = answer_after(ed2, FACT, NOTED)
    assert text.startswith("# caw · ws")
    ed2.wait_idle()
    ed2.cmd(f"CawSend {QUESTION}")
    answer_after(ed2, QUESTION, "staging-eu")
    assert FACT in scripted.main_requests()[-1].user_texts()  # the backend had the history
    assert json.loads(state_file.read_text())["workspaces"][str(ws)]["current"] == chat["sessionId"]
    ed2.wait_idle()

    # A wiped chat buffer is drawn again from the daemon's record on :Caw.
    ed2.lua(
        "vim.api.nvim_buf_delete(vim.fn.bufnr('caw://' .. require('caw').root()), { force = true })"
    )
    ed2.cmd("Caw")
    ed2.wait_text(f"## You\n\n{QUESTION}\n\n## Claude Code\n\nstaging-eu")
    assert NOTED in ed2.chat_text()


def test_killing_the_daemon_mid_turn_then_sending_again_recovers(editors, env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ed = editors(ws, env, SETUP)
    ed.cmd(f"CawSend {FACT}")  # opens the chat by itself
    answer_after(ed, FACT, NOTED)
    ed.wait_idle()

    ed.cmd(
        "CawSend [[slow:5]] Repeat after me: alpha beta gamma delta epsilon zeta eta theta iota kappa"
    )
    ed.wait_text("## Claude Code\n\nalpha")  # streaming has begun
    assert ed.lua("return _G.caw_test.chat().sending")
    [first] = daemons(ed)
    backends = list(descendants(first))
    assert backends, "the daemon runs claude"
    kill([first])
    ed.wait_text("caw-server exited")
    ed.wait_idle()
    partial = ed.chat_text().rsplit("## Claude Code", 1)[1]
    assert (
        "alpha" in partial
        and "kappa" not in partial
        and "> **error:** caw-server exited" in partial
    )
    wait_until(
        lambda: not any(alive(p) for p in backends), 30, what="the killed daemon's backends to end"
    )

    ed.cmd(f"CawSend {QUESTION}")
    text = answer_after(ed, QUESTION, "staging-eu")
    assert "conversation resumed" in text
    [second] = daemons(ed)
    assert second != first and not alive(first)


def test_two_workspaces_keep_separate_chats(editors, env, state_file, tmp_path):
    a, b = make_workspace(tmp_path / "a"), make_workspace(tmp_path / "b")
    ed = editors(a, env, SETUP)
    ed.cmd("CawSend My color is blue.")
    answer_after(ed, "My color is blue.", "Noted: color is blue.")
    ed.wait_idle()

    # Leave the chat windows (they belong to workspace a), go to b.
    ed.cmd(f"only | enew | cd {b}")
    assert ed.lua("return require('caw').root()") == str(b)
    ed.cmd("CawSend My color is green.")
    answer_after(ed, "My color is green.", "Noted: color is green.")
    ed.wait_idle()
    ed.cmd("CawSend What is my color?")
    answer_after(ed, "What is my color?", "green")
    ed.wait_idle()
    assert "blue" not in ed.chat_text()
    assert len(daemons(ed)) == 2  # one LSP client per workspace root

    ed.cmd(f"only | enew | cd {a}")
    ed.cmd("CawSend What is my color?")
    answer_after(ed, "What is my color?", "blue")
    ed.wait_idle()
    assert "green" not in ed.chat_text()

    data = json.loads(state_file.read_text())["workspaces"]
    assert set(data) == {str(a), str(b)}
    assert data[str(a)]["current"] != data[str(b)]["current"]
    assert data[str(a)]["chats"][0]["handle"] != data[str(b)]["chats"][0]["handle"]
    assert ed.quit() == 0

    # Each workspace reopens its own chat.
    ed_b = editors(b, env, SETUP)
    ed_b.cmd("Caw")
    text = answer_after(ed_b, "What is my color?", "green")
    assert "blue" not in text


def test_cancel_new_resume_and_selection(editors, env, tmp_path, scripted):
    ws = make_workspace(tmp_path / "ws")
    (ws / "src" / "app.py").write_text("def f():\n    return 1\n")
    ed = editors(ws, env, SETUP)
    ed.cmd(f"CawSend {FACT}")
    answer_after(ed, FACT, NOTED)
    ed.wait_idle()

    # :CawCancel stops a running turn; the chat goes on.
    ed.cmd("CawSend [[slow:30]] Repeat after me: one two three four five six seven eight nine ten")
    ed.wait_text("## Claude Code\n\none")
    ed.cmd("CawCancel")
    ed.wait_text("_(cancelled)_")
    ed.wait_idle()
    ed.cmd("CawSend Repeat after me: still here")
    answer_after(ed, "Repeat after me: still here", "still here")
    ed.wait_idle()

    # A tool call streams in as a closed fold holding its input and output.
    ed.cmd("CawSend [[tool:bash:echo caw-tool-ok]] Run it.")
    answer_after(
        ed, "[[tool:bash:echo caw-tool-ok]] Run it.", "> **tool** `Bash` · echo caw-tool-ok"
    )
    text = ed.wait_text("Tool said: caw-tool-ok")
    ed.wait_idle()
    lines = text.splitlines()
    start = lines.index("> **tool** `Bash` · echo caw-tool-ok") + 1
    assert "caw-tool-ok" in lines[start : start + 8]  # the output, inside the fold
    assert ed.lua(
        "local line = ... local win = vim.fn.bufwinid(vim.fn.bufnr('caw://' .. require('caw').root()))"
        " return vim.api.nvim_win_call(win, function() return { vim.fn.foldclosed(line), vim.fn.foldclosedend(line) } end)",
        start,
    ) == [start, lines.index("Tool said: caw-tool-ok") - 1]

    # A visual-range send carries the file name and the line range.
    ed.cmd("wincmd p | edit src/app.py")
    ed.cmd("1,2CawSend Repeat after me: got it")
    ed.wait_text("## You\n\nRepeat after me: got it\n\n_attached: src/app.py:1-2_")
    ed.wait_idle()
    body = json.dumps(scripted.main_requests()[-1].body)
    assert json.dumps("def f():\n    return 1")[1:-1] in body

    # :CawNew starts afresh: the fact is unknown there.
    ed.cmd("CawNew claude_code")
    ed.wait_text("new chat with Claude Code")
    assert FACT not in ed.chat_text()
    ed.cmd(f"CawSend {QUESTION}")
    answer_after(ed, QUESTION, "I don't know.")
    ed.wait_idle()

    # :CawResume lists both chats (state file + session/list) and switches back.
    ed.lua(
        """
        vim.ui.select = function(items, opts, on_choice)
          _G.caw_test.items = items
          for _, item in ipairs(items) do
            if (item.title or ''):find('deploy target', 1, true) then return on_choice(item) end
          end
          on_choice(nil)
        end
        """
    )
    ed.cmd("CawResume")
    ed.wait_text(NOTED)
    items = ed.lua("return _G.caw_test.items")
    assert len(items) == 2 and all(i.get("numTurns") for i in items), items
    ed.wait_idle()
    ed.cmd(f"CawSend {QUESTION}")
    answer_after(ed, QUESTION, "staging-eu")
    ed.wait_idle()

    # :CawEnd ends the session; the next message starts a new chat.
    ed.cmd("CawEnd")
    ed.wait_text("_chat ended_")
    ed.wait_idle()
    ed.cmd(f"CawSend {QUESTION}")
    ed.wait_text(f"_chat ended_\n\n## You\n\n{QUESTION}\n\n## Claude Code\n\nI don't know.")


def test_checkhealth_reports_daemon_providers_and_state_file(editors, env, state_file, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text('{"version": 1, "workspaces": {}}')
    state_file.chmod(0o644)
    ed = editors(ws, env, SETUP)
    ed.cmd("checkhealth caw")
    report = ed.lua("return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')")
    assert "caw-server" in report and "protocol 1." in report, report
    assert "provider claude_code: installed" in report, report
    assert "has mode 644" in report and "chmod 600" in report, report
    # The daemon started for the check is stopped again.
    wait_until(lambda: not daemons(ed), 30, what="the health check's daemon to stop")


def test_a_broken_stored_chat_is_reported_and_cawnew_recovers(editors, env, state_file, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    state_file.parent.mkdir(parents=True, exist_ok=True)
    bogus = {
        "sessionId": "nope",
        "handle": '{"version": 1, "provider": "claude_code"}',
        "title": "old",
        "lastUsed": 1,
    }
    state_file.write_text(
        json.dumps({"version": 1, "workspaces": {str(ws): {"current": "nope", "chats": [bogus]}}})
    )
    ed = editors(ws, env, SETUP)
    ed.cmd("Caw")
    ed.wait_text("_could not resume the chat: ")
    ed.wait_idle()
    ed.cmd("CawSend hello")
    ed.wait_text("(:CawNew starts a new one)")
    ed.wait_idle()
    ed.cmd("CawNew")
    ed.wait_idle()
    ed.cmd("CawSend Repeat after me: fresh start")
    answer_after(ed, "Repeat after me: fresh start", "fresh start")
