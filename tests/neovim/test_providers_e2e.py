"""Each provider a user can pick, in a real headless Neovim driven by typed keys: the chat is
started with ``:CawNew <provider>`` (the configured default is another provider, so only the
typed choice can pick it), the answer streams into the chat buffer, Neovim quits with its daemon
and the CLI processes, and a new Neovim resumes that chat and its conversation (the scripted
model server sees the earlier turn in the next request).

The permission questions of codex and opencode, answered with typed keys, are in
test_permissions_e2e.py::test_other_providers_ask_too.
"""

from __future__ import annotations

import json

import pytest

from tests.support.procs import alive, descendants, matching

from .conftest import Editor, editor_env, make_workspace, wait_until

pytestmark = pytest.mark.e2e

TURN = 120.0  # seconds: one turn (with a cold CLI start) on a busy 2-core machine
NAMES = {"claude_code": "Claude Code", "codex": "Codex", "opencode": "opencode"}
# The configured default: a provider whose CLI this test's environment cannot run.
OTHER = {"claude_code": "codex", "codex": "claude_code", "opencode": "claude_code"}
FACT = "My deploy target is staging-eu. Remember that."
NOTED = "Noted: deploy target is staging-eu."
QUESTION = "Where am I deploying?"
SLOW = "[[slow:3]] "  # the answer arrives in many small deltas over 3 s

# Records whether the chat buffer ever showed the answer begun but not finished.
_STREAM_SPY = r"""
local buf, begun, whole = ...
_G.caw_test.partial = false
vim.api.nvim_buf_attach(buf, false, {
  on_lines = function(_, b)
    local text = table.concat(vim.api.nvim_buf_get_lines(b, 0, -1, false), '\n')
    if text:find(begun, 1, true) and not text:find(whole, 1, true) then
      _G.caw_test.partial = true
    end
  end,
})
"""


def chat_buffer(ed: Editor) -> int:
    return int(ed.lua("return vim.fn.bufnr('caw://' .. require('caw').root())"))


def in_prompt_insert(ed: Editor) -> None:
    """Wait until the cursor is in the prompt under the chat, in Insert mode."""
    ed.wait(
        "vim.api.nvim_buf_get_name(0):find('caw-prompt://', 1, true) ~= nil"
        " and vim.api.nvim_get_mode().mode == 'i'",
        30,
        "the cursor in the prompt, in Insert mode",
    )


@pytest.mark.parametrize("provider", ["claude_code", "codex", "opencode"])
def test_a_typed_chat_streams_and_resumes_after_quitting(
    editors, cli_env, tmp_path, scripted, state_file, provider
):
    ws = make_workspace(tmp_path / "ws")
    cli = cli_env(provider)
    env = editor_env(cli, tmp_path)
    # opencode finds its configuration (the scripted model server) through XDG dirs, which
    # the editor's private environment replaces: the daemon (and so the CLI) gets the CLI's.
    xdg = {k: v for k, v in cli.items() if k.startswith("XDG_")}
    setup = {"provider": OTHER[provider], "cmd_env": xdg}
    name = NAMES[provider]

    ed = editors(ws, env, setup)
    ed.nvim.input(f":CawNew {provider}<CR>")
    ed.wait_text(f"new chat with {name}", TURN)
    ed.wait_idle(TURN)
    ed.lua(_STREAM_SPY, chat_buffer(ed), f"## {name}\n\nNoted:", NOTED)
    in_prompt_insert(ed)
    ed.nvim.input(f"{SLOW}{FACT}<CR>")
    ed.wait_text(f"## You\n\n{SLOW}{FACT}\n\n## {name}\n\n{NOTED}", TURN)
    ed.wait_idle(TURN)
    assert ed.lua("return _G.caw_test.partial"), "the answer was only ever shown whole"
    entry = json.loads(state_file.read_text())["workspaces"][str(ws)]
    [chat] = entry["chats"]
    assert chat["provider"] == provider and entry["current"] == chat["sessionId"], entry

    # Typed :qa ends Neovim, its daemon and the CLI processes under it.
    [daemon] = matching("caw-server", root=ed.pid)
    processes = [daemon, *descendants(daemon)]
    assert len(processes) > 1, "the daemon runs the provider's CLI"
    ed.nvim.input("<Esc>:qa<CR>")
    assert ed.proc.wait(30) == 0
    wait_until(
        lambda: not any(alive(p) for p in processes), 30, what="the daemon and its CLI to end"
    )

    # A new Neovim (the same configured default): :Caw resumes the chat with that provider.
    ed2 = editors(ws, env, setup)
    ed2.nvim.input(":Caw<CR>")
    ed2.wait_text(f"## You\n\n{SLOW}{FACT}\n\n## {name}\n\n{NOTED}", TURN)
    ed2.wait_idle(TURN)
    assert ed2.lua("return _G.caw_test.chat().provider") == provider
    in_prompt_insert(ed2)
    before = len(scripted.main_requests())
    ed2.nvim.input(f"{QUESTION}<CR>")
    ed2.wait_text(f"## You\n\n{QUESTION}\n\n## {name}\n\nstaging-eu", TURN)
    ed2.wait_idle(TURN)
    # The backend had the earlier turn: the model's request carries it.
    [asked] = [r for r in scripted.main_requests()[before:] if QUESTION in r.user_texts()]
    assert any(FACT in text for text in asked.user_texts()), asked.user_texts()
    assert json.loads(state_file.read_text())["workspaces"][str(ws)]["current"] == chat["sessionId"]
