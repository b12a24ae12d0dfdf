"""The chat as a user types it: real keys into a real headless Neovim (nvim_input, nvim_paste),
the real caw-server and `claude` CLI against the scripted model server. No Neovim function is
replaced; vim.ui.select is Neovim's own (inputlist), answered with typed digits.

One Neovim and one daemon serve many checks (the suite's time budget). Screen dumps (the text
each window shows, closed folds as their fold text) are kept in test-output/neovim/<test>/,
or in $CAW_TEST_SCREENS when set.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from .conftest import Editor, editor_env, make_workspace, wait_until

pytestmark = pytest.mark.e2e

SETUP = {"provider": "claude_code", "permission_mode": "bypass"}
APP = "def f():\n    return 1\n\n\nprint(f())\n"
TURN = 120.0


@pytest.fixture
def env(cli_env, tmp_path) -> dict[str, str]:
    return editor_env(cli_env("claude_code"), tmp_path)


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def screens(request) -> Path:
    root = os.environ.get("CAW_TEST_SCREENS") or REPO / "test-output" / "neovim"
    return Path(root) / request.node.name


def mode(ed: Editor) -> str:
    return str(ed.nvim.api.get_mode()["mode"])


def wait_blocked(ed: Editor, what: str) -> None:
    """Wait until Neovim waits for typed keys in a prompt (inputlist: mode "c")."""
    wait_until(
        lambda: ed.nvim.api.get_mode()["mode"] == "c" or ed.nvim.api.get_mode()["blocking"],
        TURN,
        what=what,
    )


def prompt_lines(ed: Editor) -> list[str]:
    return ed.lua(
        "return vim.api.nvim_buf_get_lines(vim.fn.bufnr('caw-prompt://' .. require('caw').root()), 0, -1, false)"
    )


def in_prompt(ed: Editor) -> bool:
    return ed.lua("return vim.api.nvim_buf_get_name(0):find('caw-prompt://', 1, true) ~= nil")


def focus_chat(ed: Editor) -> None:
    ed.nvim.input("<Esc>")
    ed.wait("vim.api.nvim_get_mode().mode == 'n'")
    ed.lua(
        "vim.api.nvim_set_current_win(vim.fn.bufwinid(vim.fn.bufnr('caw://' .. require('caw').root())))"
    )


def focus_prompt(ed: Editor) -> None:
    ed.lua(
        "vim.api.nvim_set_current_win(vim.fn.bufwinid(vim.fn.bufnr('caw-prompt://' .. require('caw').root())))"
    )
    ed.nvim.input("<Esc>A")
    ed.wait("vim.api.nvim_get_mode().mode == 'i'")


def last_user_text(scripted) -> str:
    return "\n".join(scripted.main_requests()[-1].user_texts())


def in_last_request(scripted, text: str) -> bool:
    """Whether the last model request carries ``text`` anywhere (attachments travel in a
    ``<context>`` block, which user_texts() leaves out as a CLI injection)."""
    return json.dumps(text)[1:-1] in json.dumps(scripted.main_requests()[-1].body)


def test_typed_keys_prompt_selection_folds_and_chat_keys(editors, env, tmp_path, scripted, screens):
    ws = make_workspace(tmp_path / "ws")
    (ws / "src" / "app.py").write_text(APP)
    (ws / "src" / "notes.md").write_text("The secret word is pelican.\n")
    ed = editors(ws, env, SETUP)
    ed.cmd("edit src/app.py")
    ed.lua("vim.keymap.set('x', 'gs', '<Plug>(caw-send-selection)')")

    # First run: a hint in the empty chat; the cursor waits in the prompt, in Insert mode.
    ed.cmd("Caw")
    ed.wait_text("Type your question in the prompt below")
    ed.wait("vim.api.nvim_get_mode().mode == 'i'")
    assert in_prompt(ed) and ":checkhealth caw" in ed.chat_text()
    ed.dump(screens / "01-first-run.txt")

    # Bug 3: folds form after a turn typed in the prompt (Insert mode all along).
    ed.nvim.input("[[tool:bash:echo caw-fold-ok]] Run it.<CR>")
    ed.wait_text("Tool said: caw-fold-ok", TURN)
    ed.wait_idle(TURN)
    assert mode(ed) == "i" and prompt_lines(ed) == [""]
    lines = ed.chat_text().splitlines()
    tool = lines.index("> **tool** `Bash` · echo caw-fold-ok") + 1
    fold = ed.lua(
        "local l = ... local win = vim.fn.bufwinid(vim.fn.bufnr('caw://' .. require('caw').root()))"
        " return vim.api.nvim_win_call(win, function() return { vim.fn.foldlevel(l), vim.fn.foldclosed(l) } end)",
        tool,
    )
    assert fold == [1, tool], fold
    # Tokens (and cost, when the CLI reports it) per turn, and for the chat in the window bar.
    assert re.search(r"^_[\d,]+ tokens", ed.chat_text(), re.M), ed.chat_text()
    assert "tokens" in ed.lua(
        "return vim.b[vim.fn.bufnr('caw://' .. require('caw').root())].caw_status"
    )
    ed.dump(screens / "02-folded-tool.txt")

    # A 3-line bracketed paste (nvim_paste: what the TUI does) arrives whole at the model.
    ed.nvim.api.paste("Repeat after me: one\ntwo\nthree", False, -1)
    assert prompt_lines(ed) == ["Repeat after me: one", "two", "three"]
    ed.nvim.input("<CR>")
    ed.wait_text("## You\n\nRepeat after me: one\ntwo\nthree\n\n## Claude Code", TURN)
    ed.wait_idle(TURN)
    assert "Repeat after me: one\ntwo\nthree" in last_user_text(scripted)
    # History: <Up> on the first line brings the message back, <Down> the empty draft.
    ed.nvim.input("<Up>")
    ed.wait("#vim.api.nvim_buf_get_lines(0, 0, -1, false) == 3")
    assert prompt_lines(ed) == ["Repeat after me: one", "two", "three"]
    ed.nvim.input("<Down>")
    ed.wait("vim.api.nvim_buf_get_lines(0, 0, -1, false)[1] == ''")
    # <C-j> breaks the line instead of sending.
    ed.nvim.input("first<C-j>second")
    ed.wait("#vim.api.nvim_buf_get_lines(0, 0, -1, false) == 2")
    assert prompt_lines(ed) == ["first", "second"]
    ed.nvim.input("<Esc>ggdG")
    ed.wait("vim.api.nvim_buf_get_lines(0, 0, -1, false)[1] == ''")

    # Bug 1: Visual selection, then the typed question (it starts with R, which replaced the
    # selected lines before): the question goes to the prompt, the file stays as it was.
    ed.lua("vim.api.nvim_set_current_win(vim.fn.bufwinid(vim.fn.bufnr('src/app.py')))")
    ed.nvim.input("ggjVjgs")
    ed.wait("vim.api.nvim_get_mode().mode == 'i'")
    assert in_prompt(ed)
    assert ed.lua(
        "return require('caw.prompt').attachment_note(vim.api.nvim_get_current_buf())"
    ) == ("attached: src/app.py:2-3")
    ed.nvim.input("Repeat after me: selection ok<CR>")
    ed.wait_text("## You\n\nRepeat after me: selection ok\n\n_attached: src/app.py:2-3_", TURN)
    ed.wait_idle(TURN)
    assert (
        ed.lua("return vim.api.nvim_buf_get_lines(vim.fn.bufnr('src/app.py'), 0, -1, false)")
        == APP.splitlines()
    )
    assert not ed.lua("return vim.bo[vim.fn.bufnr('src/app.py')].modified")
    assert (ws / "src" / "app.py").read_text() == APP
    assert "Repeat after me: selection ok" in last_user_text(scripted)
    assert in_last_request(scripted, "def f():\n    return 1") is False  # only lines 2-3
    assert in_last_request(scripted, "    return 1\n"), scripted.main_requests()[-1].body

    # #file: completion (<C-x><C-o>) and the file's text in the model's request.
    ed.nvim.input("Repeat after me: noted #file:src/no<C-x><C-o>")
    ed.wait("vim.api.nvim_get_current_line():find('#file:src/notes.md', 1, true) ~= nil")
    ed.nvim.input("<CR>")
    ed.wait_text("_attached: src/notes.md_", TURN)
    ed.wait_idle(TURN)
    assert in_last_request(scripted, "The secret word is pelican.")
    # #buffer: the file buffer the chat was opened from, as it is now.
    ed.nvim.input("Repeat after me: buffered #buffer<CR>")
    ed.wait_text("_attached: src/app.py_", TURN)
    ed.wait_idle(TURN)
    assert in_last_request(scripted, "print(f())")
    # :CawAdd without a range picks a file (vim.ui.select: Neovim's own list here).
    ed.nvim.input("<Esc>:CawAdd<CR>")
    wait_blocked(ed, "the file list")
    ed.nvim.input("2<CR>")  # src/app.py, src/notes.md
    ed.wait(
        "require('caw.prompt').attachment_note(vim.api.nvim_get_current_buf()) == 'attached: src/notes.md'"
    )
    ed.nvim.input("ARepeat after me: picked<CR>")
    ed.wait_text("## You\n\nRepeat after me: picked\n\n_attached: src/notes.md_", TURN)
    ed.wait_idle(TURN)
    assert in_last_request(scripted, "The secret word is pelican.")

    # <C-c> in the prompt stops a running turn; a "working…" line shows while it runs.
    start = len(ed.chat_text())
    ed.nvim.input("[[slow:30]] Repeat after me: a b c d e f g h i j k l m n<CR>")
    ed.wait_text("## Claude Code\n\na", TURN, start=start)
    busy = ed.lua(
        "return require('caw.render').busy_text(vim.fn.bufnr('caw://' .. require('caw').root()))"
    )
    assert busy and busy.endswith("working…"), busy
    ed.dump(screens / "03-working.txt")
    ed.nvim.input("<C-c>")
    ed.wait_text("_(cancelled)_", TURN, start=start)
    ed.wait_idle(TURN)
    assert (
        ed.lua(
            "return require('caw.render').busy_text(vim.fn.bufnr('caw://' .. require('caw').root()))"
        )
        is None
    )

    # The chat window's keys: ]] [[ between turns, gy yanks a code block, <C-c> cancels.
    focus_chat(ed)
    you = [i + 1 for i, line in enumerate(ed.chat_text().splitlines()) if line == "## You"]
    assert len(you) >= 5
    ed.nvim.input("gg]]")
    ed.wait(f"vim.fn.line('.') == {you[0]}")
    ed.nvim.input("]]")
    ed.wait(f"vim.fn.line('.') == {you[1]}")
    ed.nvim.input("[[")
    ed.wait(f"vim.fn.line('.') == {you[0]}")
    ed.nvim.input(f"zR:{tool + 1}<CR>gy")
    reg = ed.wait("vim.fn.getreg('\"') ~= '' and vim.fn.getreg('\"')")
    assert reg.startswith("{") and "echo caw-fold-ok" in reg, reg
    start = len(ed.chat_text())
    ed.cmd("CawSend [[slow:30]] Repeat after me: p q r s t u v w x y z")
    ed.wait_text("## Claude Code\n\np", TURN, start=start)
    ed.nvim.input("<C-c>")
    ed.wait_text("_(cancelled)_", TURN, start=start)
    ed.wait_idle(TURN)

    # ga: provider / model / reasoning through vim.ui.select (Neovim's inputlist), typed.
    ed.nvim.input("ga")
    wait_blocked(ed, "the options list")
    ed.nvim.input("3<CR>")
    wait_blocked(ed, "the reasoning levels")
    ed.nvim.input("3<CR>")
    ed.wait(
        "_G.caw_test.chat and require('caw.chat').get(require('caw').root()).reasoning == 'high'"
    )
    assert "high" in ed.lua(
        "return vim.b[vim.fn.bufnr('caw://' .. require('caw').root())].caw_status"
    )
    if ed.lua(
        "return require('caw.daemon').speaks(require('caw.daemon').get(require('caw').root()), '1.2')"
    ):
        # The model list comes from providers/models; the choice is applied with session/configure.
        start = len(ed.chat_text())
        ed.nvim.input("ga")
        wait_blocked(ed, "the options list")
        ed.nvim.input("2<CR>")
        wait_blocked(ed, "the model list")
        ed.nvim.input("1<CR>")
        ed.wait_text("_next turns: ", TURN, start=start)

    # ? shows the keys in a float; q closes it, q in the chat closes the chat windows.
    ed.nvim.input("?")
    ed.wait("vim.api.nvim_win_get_config(0).relative ~= ''")
    help_text = "\n".join(ed.lua("return vim.api.nvim_buf_get_lines(0, 0, -1, false)"))
    for key in ("]]", "gy", "<C-c>", "ga", "gr", "gd"):
        assert key in help_text, help_text
    ed.dump(screens / "04-help.txt")
    ed.nvim.input("q")
    ed.wait("vim.api.nvim_win_get_config(0).relative == ''")
    ed.dump(screens / "05-chat.txt")
    ed.nvim.input("q")
    ed.wait("vim.fn.bufwinid(vim.fn.bufnr('caw://' .. require('caw').root())) == -1")
    assert (
        ed.lua("return vim.fn.bufwinid(vim.fn.bufnr('caw-prompt://' .. require('caw').root()))")
        == -1
    )
    assert not [n for n in ed.notes() if "Press ENTER" in n]


def test_trust_prompt_and_two_chats_after_a_restart(editors, env, tmp_path, state_file, screens):
    ws = make_workspace(tmp_path / "ws")
    # Agent configuration that would run code when claude starts in this folder.
    marker = tmp_path / "hook-ran"
    (ws / ".claude").mkdir()
    (ws / ".claude" / "settings.json").write_text(
        json.dumps(
            {
                "hooks": {
                    "SessionStart": [{"hooks": [{"type": "command", "command": f"touch {marker}"}]}]
                }
            }
        )
    )
    spy = """
    local select = vim.ui.select
    _G.caw_test.asked = {}
    vim.ui.select = function(items, opts, cb)
      table.insert(_G.caw_test.asked, opts.prompt or '')
      return select(items, opts, cb)
    end
    """
    ed = editors(ws, env, SETUP)
    ed.lua(spy)  # records the question, then Neovim's own vim.ui.select asks it
    ed.cmd("Caw")
    ed.wait("vim.api.nvim_get_mode().mode == 'i'")
    ed.nvim.input("My color is blue.<CR>")
    wait_blocked(ed, "the trust question")
    ed.nvim.input("2<CR>")  # Without project configuration
    ed.wait_text("Noted: color is blue.", TURN)
    ed.wait_idle(TURN)
    asked = ed.lua("return _G.caw_test.asked")
    assert len(asked) == 1 and ".claude/settings.json" in asked[0], asked
    assert not marker.exists()

    # A second chat in the same workspace (trust is not asked again in this Neovim).
    ed.cmd("CawNew claude_code")
    ed.wait_text("new chat with Claude Code")
    ed.wait_idle(TURN)
    focus_prompt(ed)
    ed.nvim.input("My color is green.<CR>")
    ed.wait_text("Noted: color is green.", TURN)
    ed.wait_idle(TURN)
    # A failed turn: its error is shown once, in the chat.
    ed.nvim.input("[[fail:500]] Boom.<CR>")
    boom = ed.wait_text("## You\n\n[[fail:500]] Boom.\n\n## Claude Code", TURN).index(
        "[[fail:500]]"
    )
    ed.wait_text("> **error:** ", TURN, start=boom)
    ed.wait_idle(TURN)
    assert ed.chat_text().count("> **error:** ") == 1
    assert not [n for n in ed.notes() if "500" in n], ed.notes()  # not a second time
    stores_failed = ed.lua(
        "return require('caw.daemon').speaks(require('caw.daemon').get(require('caw').root()), '1.2')"
    )
    assert len(ed.lua("return _G.caw_test.asked")) == 1
    assert ed.quit() == 0

    # After a restart: the current chat comes back; :CawChats lists both and opens the other.
    ed2 = editors(ws, env, SETUP)
    ed2.lua(spy)
    ed2.cmd("Caw")
    # The answer held for that Neovim; the daemon may remember it (its trust store), else it asks.
    asked_again = wait_until(
        lambda: (
            (ed2.nvim.api.get_mode()["mode"] == "c" and "asked")
            or ("Noted: color is green." in ed2.chat_text() and "resumed")
        ),
        TURN,
        what="the trust question or the resumed chat",
    )
    if asked_again == "asked":
        ed2.nvim.input("2<CR>")
    ed2.wait_text("Noted: color is green.", TURN)
    ed2.wait_idle(TURN)
    if stores_failed:  # protocol 1.2 keeps failed turns: shown after the restart, gr sends again
        boom = ed2.wait_text("[[fail:500]] Boom.\n\n## Claude Code").index("[[fail:500]]")
        ed2.wait_text("> **error:** ", start=boom)
        focus_chat(ed2)
        ed2.nvim.input("gr")
        ed2.wait(
            "select(2, table.concat(_G.caw_test.chat_lines(), '\\n'):gsub('%[%[fail:500%]%] Boom%.', '')) == 2"
        )
        ed2.wait_idle(TURN)
    ed2.nvim.input("<Esc>")
    ed2.cmd("CawChats")
    wait_blocked(ed2, "the chat list")
    ed2.nvim.input("2<CR>")  # most recent first: the blue chat is second
    wait_blocked(ed2, "the chat actions")
    ed2.nvim.input("1<CR>")  # Open
    text = ed2.wait_text("Noted: color is blue.", TURN)
    ed2.wait_idle(TURN)
    assert "green" not in text.split("resuming", 1)[-1]
    chats = json.loads(state_file.read_text())["workspaces"][str(ws)]["chats"]
    assert len(chats) == 2
    ed2.dump(screens / "06-resumed-chat.txt")

    # Rename and delete through :CawChats (typed answers to vim.ui.select / vim.ui.input).
    ed2.cmd("CawChats")
    wait_blocked(ed2, "the chat list")
    ed2.nvim.input("1<CR>")
    wait_blocked(ed2, "the chat actions")
    ed2.nvim.input("2<CR>")  # Rename
    wait_blocked(ed2, "the new title")
    ed2.nvim.input("<C-u>Blue chat<CR>")
    wait_until(
        lambda: (
            "Blue chat"
            in [
                c.get("title")
                for c in json.loads(state_file.read_text())["workspaces"][str(ws)]["chats"]
            ]
        ),
        30,
        what="the renamed chat in the state file",
    )
    ed2.cmd("CawChats")
    wait_blocked(ed2, "the chat list")
    ed2.nvim.input("2<CR>")  # the green chat
    wait_blocked(ed2, "the chat actions")
    ed2.nvim.input("3<CR>")  # Delete
    wait_blocked(ed2, "the confirmation")
    ed2.nvim.input("1<CR>")
    wait_until(
        lambda: len(json.loads(state_file.read_text())["workspaces"][str(ws)]["chats"]) == 1,
        30,
        what="the deleted chat gone from the state file",
    )
    assert not marker.exists()


def test_an_edit_shown_as_a_diff_and_reverted(editors, env, tmp_path, screens):
    ws = make_workspace(tmp_path / "ws")
    (ws / "notes.txt").write_text("before\n")
    ed = editors(ws, env, SETUP)
    ed.cmd("CawSend Repeat after me: ready")
    ed.wait_text("ready", TURN)
    ed.wait_idle(TURN)
    if not ed.lua(
        "return require('caw.daemon').speaks(require('caw.daemon').get(require('caw').root()), '1.2')"
    ):
        pytest.skip("caw-server before protocol 1.2 has no session/changes")
    ed.cmd("CawSend [[tool:write:notes.txt:after]] Write it.")
    ed.wait_text("changed: `notes.txt` (modified)", TURN)
    ed.wait_idle(TURN)
    assert (ws / "notes.txt").read_text().strip() == "after"
    # The edit's tool call shows its diff (inside the tool's fold).
    assert "```diff\n--- a/" in ed.chat_text() and "\n+after\n" in ed.chat_text(), ed.chat_text()
    focus_chat(ed)
    ed.nvim.input("Ggd")
    ed.wait("vim.t.caw_review ~= nil and #vim.api.nvim_tabpage_list_wins(0) == 2")
    sides = ed.lua(
        "return vim.tbl_map(function(w) return { diff = vim.wo[w].diff,"
        " lines = vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(w), 0, -1, false) } end,"
        " vim.api.nvim_tabpage_list_wins(0))"
    )
    assert sides == [{"diff": True, "lines": ["before"]}, {"diff": True, "lines": ["after"]}], sides
    ed.dump(screens / "07-diff.txt")
    ed.cmd("tabclose")
    # Changed since the turn: nothing is written, and the chat names the file.
    (ws / "notes.txt").write_text("edited by hand\n")
    ed.cmd("CawRevert")
    ed.wait_text("_not reverted: changed since turn 2: notes.txt (nothing was written)_", TURN)
    assert (ws / "notes.txt").read_text() == "edited by hand\n"
    (ws / "notes.txt").write_text("after\n")
    ed.cmd("CawRevert")
    ed.wait_text("reverted turn 2: notes.txt", TURN)
    assert (ws / "notes.txt").read_text() == "before\n"
