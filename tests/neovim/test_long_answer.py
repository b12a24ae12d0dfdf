"""A long streamed answer is linear in Neovim's chat (issue 21, finding 8).

Extending a line costs Neovim the line's length, and moving the cursor onto a long wrapped
line re-measures it: per delta, a 400 kB one-line answer took 112 s headless (46 s with a UI,
the editor frozen). The chat now leaves a cursor that already is on the last line alone,
remembers where its text ends (no copy of the line per delta), and gathers the deltas of a long
line into one write every 50 ms. These checks count the buffer operations per delta.
"""

from __future__ import annotations

from .conftest import make_workspace

STREAM = r"""
local deltas, piece, newline_every = ...
local api = vim.api
local render = require('caw.render')
local buf = render.buffer('/tmp/ws-long')
render.reset(buf, 'caw · long')
render.show(buf, nil)
local calls = { set_cursor = 0, get_lines = 0, set_text = 0 }
local originals = {}
for name, key in pairs({ nvim_win_set_cursor = 'set_cursor', nvim_buf_get_lines = 'get_lines',
                         nvim_buf_set_text = 'set_text' }) do
  originals[name] = api[name]
  api[name] = function(...)
    calls[key] = calls[key] + 1
    return originals[name](...)
  end
end
local tick = api.nvim_buf_get_changedtick(buf)
local s = render.stream(buf, 'claude_code')
for i = 1, deltas do
  local text = piece
  if newline_every > 0 and i % newline_every == 0 then text = text .. '\n' end
  s:update({ kind = i <= 10 and 'thinking' or 'text', text = text })
end
if s.flush then s:flush() end -- (main had none: it wrote every delta at once)
for name, fn in pairs(originals) do api[name] = fn end
calls.ticks = api.nvim_buf_get_changedtick(buf) - tick
return { calls = calls, lines = api.nvim_buf_get_lines(buf, 0, -1, false), folds = render.folds(buf) }
"""


def test_one_long_line_costs_a_bounded_number_of_buffer_operations(editors, nvim_env, tmp_path):
    ed = editors(make_workspace(tmp_path / "ws"), nvim_env)
    deltas = 20_000  # 400 kB on one line, in 20-character deltas
    out = ed.lua(STREAM, deltas, "x" * 19 + " ", 0)
    lines, calls = out["lines"], out["calls"]
    assert lines[-1] == ("x" * 19 + " ") * (deltas - 10), "the whole answer, on one line"
    assert lines[-4:-1] == ["> *thinking*", "> " + ("x" * 19 + " ") * 10, ""]
    # Per delta before: one cursor move, one copy of the line, one write (20,000 each).
    assert calls["set_cursor"] <= 10, calls
    assert calls["get_lines"] <= 10, calls
    assert calls["set_text"] <= 4096 // 20 + 20, calls  # until the line is long, then gathered
    assert calls["ticks"] <= calls["set_text"] + 20, calls


def test_many_lines_stream_with_folds_intact(editors, nvim_env, tmp_path):
    ed = editors(make_workspace(tmp_path / "ws"), nvim_env)
    out = ed.lua(STREAM, 3000, "y" * 9 + " ", 7)
    lines = out["lines"]
    body = "\n".join(lines[lines.index("> *thinking*") :])
    expected_text = "".join("y" * 9 + " " + ("\n" if i % 7 == 0 else "") for i in range(11, 3001))
    assert body.endswith("\n\n" + expected_text), body[-200:]
    thinking = lines.index("> *thinking*") + 1
    thought = "".join("y" * 9 + " " + ("\n" if i % 7 == 0 else "") for i in range(1, 11))
    assert out["folds"][-1] == {"s": thinking, "e": thinking + thought.count("\n") + 1}
    assert out["calls"]["set_cursor"] <= 3000 // 7 + 10, out["calls"]  # per new line, not delta
