"""The plugin in a real headless Neovim, without a daemon: loading, help tags,
the state file, the chat buffer's rendering and folds, the selection message."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess

from .conftest import NVIM, PLUGIN, make_workspace

MODULES = sorted(p.stem for p in (PLUGIN / "lua" / "caw").glob("*.lua"))


def test_every_module_loads_and_commands_exist(editors, nvim_env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ed = editors(ws, nvim_env)
    for name in MODULES:
        module = "caw" if name == "init" else f"caw.{name}"
        assert ed.lua(f"return type(require('{module}'))") == "table", module
    for command in ("Caw", "CawSend", "CawNew", "CawResume", "CawCancel", "CawEnd"):
        assert ed.lua(f"return vim.fn.exists(':{command}')") == 2, command
    # Every mapping the plugin defines is a <Plug> mapping: it clobbers nothing.
    lhs = ed.lua(
        """
        local out = {}
        for _, mode in ipairs({ 'n', 'x', 'v', 'i', 'o', 's', 'c', 't' }) do
          for _, m in ipairs(vim.api.nvim_get_keymap(mode)) do
            if (m.desc or ''):match('^caw') then table.insert(out, m.lhs) end
          end
        end
        return out
        """
    )
    assert lhs and all(m.startswith("<Plug>(caw-") for m in lhs), lhs
    assert {"<Plug>(caw-open)", "<Plug>(caw-send)", "<Plug>(caw-send-selection)"} <= set(lhs)
    # Root detection: the git root from a subdirectory.
    ed.cmd(f"cd {ws / 'src'}")
    assert ed.lua("return require('caw').root()") == str(ws)


def test_modules_load_standalone_with_luafile():
    """Each file compiles and runs in a bare `nvim -l` (no plugin manager, no rtp tricks)."""
    names = ", ".join('"caw"' if m == "init" else f'"caw.{m}"' for m in MODULES)
    script = f"vim.opt.rtp:prepend(_G.arg[1]); for _, m in ipairs({{{names}}}) do require(m) end"
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-l", "-", str(PLUGIN)],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_help_tags_are_valid(tmp_path):
    doc = tmp_path / "caw" / "doc"
    shutil.copytree(PLUGIN / "doc", doc)
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-c", f"helptags {doc}", "-c", "qa!"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and not re.search(r"\bE\d+:", proc.stdout + proc.stderr), (
        proc.stderr
    )
    tags = {line.split("\t")[0] for line in (doc / "tags").read_text().splitlines()}
    for tag in (
        "caw.txt",
        "caw",
        ":Caw",
        ":CawSend",
        ":CawNew",
        ":CawResume",
        ":CawCancel",
        ":CawEnd",
        "caw-setup",
        "caw-state",
        "<Plug>(caw-open)",
        "caw.setup()",
    ):
        assert tag in tags, tag
    # :help finds them with the copy on the runtimepath.
    proc = subprocess.run(
        [
            NVIM,
            "--headless",
            "--clean",
            "--cmd",
            f"set rtp^={doc.parent}",
            "-c",
            "help :CawSend",
            "-c",
            "lua io.stdout:write(vim.fn.expand('%:t'))",
            "-c",
            "qa!",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip() == "caw.txt", proc.stdout + proc.stderr


def test_state_file_is_private_atomic_and_per_workspace(editors, nvim_env, state_file, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ed = editors(ws, nvim_env)
    os.umask(0o022)  # the default; the file must still come out 0600
    assert ed.lua("return require('caw.state').path()") == str(state_file)
    ed.lua(
        """
        local state = require('caw.state')
        state.remember('/a', { sessionId = 's1', handle = 'H1', provider = 'claude_code', title = 'first' })
        state.remember('/b', { sessionId = 's2', handle = 'H2', provider = 'codex', title = 'other' })
        state.remember('/a', { sessionId = 's3', handle = 'H3', provider = 'claude_code', title = 'second' })
        -- a resume that gave the chat a new id replaces its entry
        state.remember('/a', { sessionId = 's4', handle = 'H4' }, 's3')
        """
    )
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_file.parent.stat().st_mode) == 0o700
    assert [p.name for p in state_file.parent.iterdir()] == [
        "workspaces.json"
    ]  # no temp files left
    data = json.loads(state_file.read_text())
    a, b = data["workspaces"]["/a"], data["workspaces"]["/b"]
    assert a["current"] == "s4" and b["current"] == "s2"
    assert {c["sessionId"] for c in a["chats"]} == {"s1", "s4"}
    s4 = next(c for c in a["chats"] if c["sessionId"] == "s4")
    assert s4["handle"] == "H4" and s4["title"] == "second" and s4["provider"] == "claude_code"
    assert isinstance(s4["lastUsed"], int)
    assert ed.lua("return require('caw.state').current('/b').handle") == "H2"
    assert ed.lua("return require('caw.state').current('/nowhere')") is None

    # A widened mode is narrowed again by the next write; a damaged file does not break anything.
    os.chmod(state_file, 0o644)
    ed.lua("require('caw.state').clear_current('/b')")
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert json.loads(state_file.read_text())["workspaces"]["/b"].get("current") is None
    state_file.write_text("{not json")
    assert ed.lua("return vim.tbl_count(require('caw.state').read().workspaces)") == 0
    ed.lua("require('caw.state').remember('/c', { sessionId = 's5' })")
    assert list(json.loads(state_file.read_text())["workspaces"]) == ["/c"]


RENDER = r"""
local render = require('caw.render')
local buf = render.buffer('/tmp/ws-render')
render.reset(buf, 'caw · test')
render.show(buf, nil)
render.user(buf, 'run it')
local s = render.stream(buf, 'claude_code')
s:update({ kind = 'text', text = 'Let me ' })
s:update({ kind = 'text', text = 'check.\nOne moment.' })
s:update({ kind = 'toolCall', id = 't1', name = 'Bash', input = { command = 'echo hi' } })
s:update({ kind = 'toolResult', id = 't1', output = 'hi', isError = false })
s:update({ kind = 'text', text = 'Tool said: hi' })
s:update({ kind = 'usage', usage = { inputTokens = 3, outputTokens = 4, totalTokens = 7 } })
return buf
"""


def _folded_lines(ed, buf):
    return ed.lua(
        """
        local buf = ...
        local win = vim.fn.bufwinid(buf)
        return vim.api.nvim_win_call(win, function()
          local out = {}
          for l = 1, vim.api.nvim_buf_line_count(buf) do
            if vim.fn.foldclosed(l) ~= -1 then table.insert(out, l) end
          end
          return out
        end)
        """,
        buf,
    )


def test_streaming_renders_markdown_and_folds_tool_calls(editors, nvim_env, tmp_path):
    ed = editors(make_workspace(tmp_path / "ws"), nvim_env)
    buf = ed.lua(RENDER)
    lines = ed.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf)
    text = "\n".join(lines)
    assert lines[0] == "# caw · test"
    assert "## You\n\nrun it" in text
    assert "## Claude Code\n\nLet me check.\nOne moment.\n\n> **tool** `Bash` · echo hi" in text
    assert '```json\n{"command":"echo hi"}\n```\n```text\nhi\n```' in text
    assert text.endswith("```\n\nTool said: hi")
    assert ed.lua("return vim.bo[...].filetype", buf) == "markdown"
    assert ed.lua("return vim.bo[...].modifiable", buf) is False
    # The tool block is one closed fold; the prose is not folded.
    tool = lines.index("> **tool** `Bash` · echo hi") + 1
    folded = _folded_lines(ed, buf)
    assert folded == list(range(tool, tool + 7)), (folded, lines)

    # The final Turn replaces the streamed answer (same shape here, plus thinking, folded too).
    ed.lua(
        """
        local buf = ...
        local render = require('caw.render')
        local s = render.stream(buf, 'claude_code')
        s:update({ kind = 'thinking', text = 'hmm\\nyes' })
        s:update({ kind = 'text', text = 'partial' })
        s:finish({
          input = 'x', stopReason = 'end_turn',
          output = {
            { type = 'thinking', text = 'hmm\\nyes' },
            { type = 'text', text = 'Final answer.' },
          },
        }, 'claude_code')
        """,
        buf,
    )
    lines = ed.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf)
    assert lines[-7:] == [
        "## Claude Code",
        "",
        "> *thinking*",
        "> hmm",
        "> yes",
        "",
        "Final answer.",
    ], lines
    assert "partial" not in lines
    think = len(lines) - 4
    assert _folded_lines(ed, buf) == list(range(tool, tool + 7)) + [think, think + 1, think + 2]

    # A retried answer (update.replace) voids what streamed since the tool block, and only that.
    ed.lua(
        """
        local buf = ...
        local render = require('caw.render')
        local s = render.stream(buf, 'claude_code')
        s:update({ kind = 'toolCall', id = 't2', name = 'Bash', input = { command = 'true' } })
        s:update({ kind = 'thinking', text = 'broken thought' })
        s:update({ kind = 'text', text = 'alpha beta' })
        s:update({ kind = 'text', text = '', replace = true })
        s:update({ kind = 'text', text = 'alpha beta gamma' })
        """,
        buf,
    )
    retried = ed.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf)
    assert retried[-3:] == ["```", "", "alpha beta gamma"], retried
    assert "> broken thought" not in retried and "alpha beta" not in retried
    assert _folded_lines(ed, buf)[-1] == len(retried) - 2, "the tool block keeps its fold"
    assert _folded_lines(ed, buf)[:10] == list(range(tool, tool + 7)) + [
        think,
        think + 1,
        think + 2,
    ]


def test_history_turns_render_with_errors_and_cancellations(editors, nvim_env, tmp_path):
    ed = editors(make_workspace(tmp_path / "ws"), nvim_env)
    text = ed.lua(
        """
        local render = require('caw.render')
        local buf = render.buffer('/tmp/ws-history')
        render.reset(buf, 'caw')
        render.turn(buf, { input = 'a', output = { { type = 'text', text = 'A' } }, stopReason = 'end_turn' }, 'codex')
        render.turn(buf, { input = 'b', output = {}, stopReason = 'cancelled' }, 'codex')
        render.turn(buf, { input = 'c', output = {}, stopReason = 'error', error = 'boom' }, 'codex')
        render.turn(buf, { input = 'e', output = { { type = 'text', text = "API Error: You've hit your limit\\n" },
          { type = 'text', text = 'Partial answer' } }, status = 'failed',
          error = { kind = 'usageLimit', message = "claude: API Error: You've hit your limit" } }, 'claude_code')
        render.turn(buf, { input = 'f', output = {}, status = 'failed',
          error = { kind = 'modelError', message = 'usage limit of tools' } }, 'claude_code')
        render.turn(buf, { input = 'd', output = { { type = 'tool_use', id = '1', name = 'Read',
          input = { file_path = 'x.py' }, output = 'print(1)', isError = true } } }, 'opencode')
        return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\\n')
        """
    )
    assert "## You\n\na\n\n## Codex\n\nA" in text
    assert "## You\n\nb\n\n## Codex\n\n_(cancelled)_" in text
    assert "> **error:** boom" in text
    # A stored usageLimit failure names the option, as the live one does; other kinds do not.
    # The CLI's streamed copy of the error is left out (said once), the rest of the answer stays.
    assert (
        "## Claude Code\n\nPartial answer\n\n> **error:** claude: API Error: You've hit your limit"
        " (`auto_wait = true` in setup() waits for the reset and sends again)" in text
    ), text
    assert "> **error:** usage limit of tools\n" in text
    assert (
        "> **tool** `Read` · x.py\n```json\n" in text
        and "> **error**\n```text\nprint(1)\n```" in text
    )


def test_selection_message_names_file_and_lines(editors, nvim_env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    (ws / "src" / "app.py").write_text("def f():\n    return 1\n\nprint(f())\n")
    ed = editors(ws, nvim_env)
    ed.cmd("edit src/app.py")
    msg = ed.lua("return require('caw').selection_message(0, 1, 2, 'Explain this.')")
    assert msg == "Explain this.\n\nsrc/app.py (lines 1-2):\n```python\ndef f():\n    return 1\n```"
    assert ed.lua("return require('caw').selection_message(0, 4, 4, '')").startswith(
        "src/app.py (line 4):\n"
    )


def test_missing_daemon_is_reported(editors, nvim_env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    env = {k: v for k, v in nvim_env.items() if k != "CAW_AUTOWAIT"}
    ed = editors(ws, env, {"cmd": ["caw-server-does-not-exist"]})
    ed.cmd("CawSend hello")
    ed.wait_text("caw-server-does-not-exist not found")
    ed.cmd("checkhealth caw")
    report = ed.lua("return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')")
    assert "caw-server-does-not-exist" in report and "ERROR" in report, report
    # Auto-wait is reported without a daemon: here not set, and $CAW_AUTOWAIT not either.
    assert (
        "auto-wait: the daemon's default ($CAW_AUTOWAIT not set: off);"
        " setup({ auto_wait = true }) turns it on" in report
    ), report


def test_checkhealth_says_whether_auto_wait_is_on(editors, nvim_env, tmp_path):
    ed = editors(make_workspace(tmp_path / "ws"), nvim_env)

    def said(auto_wait: bool | None, cmd: list[str], env: str | None) -> str:
        text: str = ed.lua("return require('caw.health').auto_wait_text(...)", auto_wait, cmd, env)
        return text

    assert said(True, ["caw-server"], "0").startswith("auto-wait: on (auto_wait = true)")
    assert said(False, ["caw-server", "--auto-wait"], "1").startswith(
        "auto-wait: off (auto_wait = false)"
    )
    default = "auto-wait: the daemon's default ({}); setup({{ auto_wait = true }}) turns it on"
    assert said(None, ["caw-server"], "1") == default.format("$CAW_AUTOWAIT=1: on")
    assert said(None, ["caw-server"], " Off ") == default.format("$CAW_AUTOWAIT= Off : off")
    assert said(None, ["caw-server"], None) == default.format("$CAW_AUTOWAIT not set: off")
    assert said(None, ["caw-server", "--no-auto-wait"], "1") == default.format(
        "--no-auto-wait in cmd: off"
    )
    # :checkhealth itself, with the option set (the daemon is missing: the line is said anyway).
    ed.lua("require('caw').setup({ cmd = { 'caw-server-does-not-exist' }, auto_wait = true })")
    ed.cmd("checkhealth caw")
    report = ed.lua("return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')")
    assert "auto-wait: on (auto_wait = true)" in report, report


def test_plug_mappings_attach_the_selection(editors, nvim_env, tmp_path):
    """The Visual <Plug>s leave Visual mode at once and hand the lines to caw.add()."""
    ws = make_workspace(tmp_path / "ws")
    (ws / "app.py").write_text("a = 1\nb = 2\nc = 3\n")
    ed = editors(ws, nvim_env)
    ed.lua(
        """
        require('caw').add = function(l1, l2, ask) _G.caw_test.added = { l1 = l1, l2 = l2, ask = ask or false } end
        vim.ui.input = function(opts, on_confirm) on_confirm('Why?') end
        require('caw').send = function(text) _G.caw_test.sent = { text = text } end
        vim.keymap.set('x', 'gs', '<Plug>(caw-send-selection)')
        vim.keymap.set('x', 'ga', '<Plug>(caw-add)')
        vim.keymap.set('n', 'gS', '<Plug>(caw-send)')
        """
    )
    ed.cmd("edit app.py")
    ed.nvim.input("jVjgs")
    assert ed.wait("_G.caw_test.added") == {"l1": 2, "l2": 3, "ask": True}
    assert ed.lua("return vim.fn.mode()") == "n"
    ed.lua("_G.caw_test.added = nil")
    ed.nvim.input("ggVga")
    assert ed.wait("_G.caw_test.added") == {"l1": 1, "l2": 1, "ask": False}
    ed.nvim.input("gS")
    assert ed.wait("_G.caw_test.sent") == {"text": "Why?"}


def test_usage_limit_wait_text_reads_the_daemons_utc_time(editors, nvim_env, tmp_path):
    """The waiting line's clock is the local time of resetsAt, whatever zone it is written in
    (Neovim runs at UTC+05:30 here); its minutes count from now."""
    ed = editors(make_workspace(tmp_path / "ws"), {**nvim_env, "TZ": "Asia/Kolkata"})
    epochs = ed.lua(
        "local r = require('caw.render') return { r.epoch('2026-11-30T14:05:00Z'),"
        " r.epoch('2026-11-30T19:35:00.123456+05:30'), r.epoch('2024-02-29T23:59:59Z'),"
        " r.epoch('2026-11-30T14:05:00') or false, r.epoch('soon') or false }"
    )
    assert epochs == [1796047500, 1796047500, 1709251199, False, False]
    now = 1796047500 - 42 * 60 - 30  # 42.5 min before 14:05 UTC = 19:35 in Kolkata
    text = ed.lua(
        "return require('caw.render').wait_text({ resetsAt = '2026-11-30T14:05:00Z', waitMinutes = 99 }, ...)",
        now,
    )
    assert text == (
        "Usage limit reached — waiting until 19:35 (about 43 min), then sending again. "
        "`<C-c>` stops waiting."
    )
    later = ed.lua(
        "return require('caw.render').wait_text({ resetsAt = '2026-12-01T16:05:00Z' }, ...)", now
    )
    assert later.startswith("Usage limit reached — waiting until Tue 21:35 (about 26 h 43 min)"), (
        later
    )
    # Without a readable time: the daemon's minutes.
    assert "(about 1 h 39 min)" in ed.lua(
        "return require('caw.render').wait_text({ resetsAt = 'soon', waitMinutes = 99 }, ...)", now
    )


def test_auto_wait_is_sent_only_when_set(editors, nvim_env, tmp_path):
    ed = editors(make_workspace(tmp_path / "ws"), nvim_env)
    options = "return require('caw.daemon').client_config('/x').init_options"
    assert "autoWait" not in ed.lua(options)  # unset: the daemon's default ($CAW_AUTOWAIT)
    for value in (True, False):
        ed.lua("require('caw').setup({ auto_wait = ... })", value)
        assert ed.lua(options)["autoWait"] is value
    ed.lua("require('caw').setup({ auto_wait = true, init_options = { autoWait = false } })")
    assert ed.lua(options)["autoWait"] is False  # init_options win, as documented
    error = ed.lua("return select(2, pcall(require('caw').setup, { auto_wait = 'yes' }))")
    assert "auto_wait must be a boolean, got string" in error
