-- The chat buffer: the conversation as markdown, answers streamed in as they
-- arrive, tool calls and thinking in closed folds.
--
-- The plugin only ever appends at the end or rewrites the answer being
-- streamed, so fold ranges are plain line numbers kept per buffer; a range is
-- recorded before its lines are written, so the foldexpr sees it at once.
local config = require('caw.config')
local api = vim.api

local M = {}

local folds = {} ---@type table<integer, {s: integer, e: integer}[]> buf -> ranges (1-based)
-- Where the last streamed text ended, valid while the buffer's changedtick is `tick`: appending
-- there needs no copy of the last line, which a long streamed line made cost its whole length.
local tails = {} ---@type table<integer, {tick: integer, row: integer, col: integer}>
local ns_turns = api.nvim_create_namespace('caw_turns') -- "## You" lines, id = turn number
local ns_busy = api.nvim_create_namespace('caw_busy')
local spinners = {} ---@type table<integer, {timer: any, frame: integer}>

local PROVIDER_NAMES = { claude_code = 'Claude Code', codex = 'Codex', opencode = 'opencode' }

function M.provider_name(provider)
  return PROVIDER_NAMES[provider] or provider or 'caw'
end

-- ---------------------------------------------------------------- folds

function M.foldexpr(lnum)
  local ranges = folds[api.nvim_get_current_buf()]
  if not ranges then
    return '0'
  end
  -- Binary search for the last range starting at or before lnum.
  local lo, hi, found = 1, #ranges, nil
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    if ranges[mid].s <= lnum then
      found, lo = mid, mid + 1
    else
      hi = mid - 1
    end
  end
  local r = found and ranges[found]
  if not r then
    return '0'
  elseif r.s == lnum then
    return '>1'
  elseif lnum <= r.e then
    return '1'
  end
  return '0'
end

function M.foldtext()
  local first = vim.fn.getline(vim.v.foldstart)
  return ('%s  ··· %d lines'):format(first, vim.v.foldend - vim.v.foldstart + 1)
end

--- The fold ranges of a buffer (for tests and :checkhealth).
function M.folds(buf)
  return vim.deepcopy(folds[buf] or {})
end

--- Make the folds of `buf`'s windows match the ranges now. Neovim does not update expression
--- folds while Insert mode is active (and on leaving it only the current window's), so a turn
--- sent from the prompt left the chat without folds; `zx` recomputes them. Folds the user had
--- opened are opened again.
function M.refresh_folds(buf)
  local mode = api.nvim_get_mode().mode
  if mode:sub(1, 1) == 'n' or not folds[buf] then
    return
  end
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    api.nvim_win_call(win, function()
      local open = {}
      for _, r in ipairs(folds[buf]) do
        if vim.fn.foldlevel(r.s) > 0 and vim.fn.foldclosed(r.s) == -1 then
          open[#open + 1] = r.s
        end
      end
      local view = vim.fn.winsaveview()
      vim.cmd('silent! normal! zx')
      for _, lnum in ipairs(open) do
        vim.cmd(('silent! %dfoldopen'):format(lnum))
      end
      vim.fn.winrestview(view)
    end)
  end
end

local function drop_folds_from(buf, lnum)
  local ranges = folds[buf] or {}
  while #ranges > 0 and ranges[#ranges].s >= lnum do
    table.remove(ranges)
  end
  if #ranges > 0 and ranges[#ranges].e >= lnum then
    ranges[#ranges].e = lnum - 1
  end
end

-- ---------------------------------------------------------------- buffers and windows

local function set_window_options(win)
  local wo = vim.wo[win]
  wo.wrap = true
  wo.linebreak = true
  wo.number = false
  wo.relativenumber = false
  wo.signcolumn = 'no'
  wo.foldmethod = 'expr'
  wo.foldexpr = "v:lua.require'caw.render'.foldexpr(v:lnum)"
  wo.foldtext = "v:lua.require'caw.render'.foldtext()"
  wo.foldlevel = config.options.fold_tools and 0 or 99
  wo.foldenable = true
  wo.winfixwidth = true
  -- render-markdown.nvim / markview.nvim conceal markup; plain Neovim hides ** and ` too.
  wo.conceallevel = config.options.conceallevel
  wo.concealcursor = 'nc'
end

--- The named scratch buffer of a workspace: the existing one (and true), or a new one.
local function workspace_buffer(name, buftype, root)
  local buf = vim.fn.bufnr(name)
  if buf ~= -1 and api.nvim_buf_is_valid(buf) then
    return buf, true
  end
  buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_name(buf, name)
  vim.bo[buf].buftype = buftype
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.b[buf].caw_root = root
  return buf, false
end

--- The chat buffer of a workspace (created on first use).
function M.buffer(root)
  local buf, existing = workspace_buffer('caw://' .. root, 'nofile', root)
  if existing then
    return buf
  end
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].modifiable = false
  folds[buf] = {}
  api.nvim_create_autocmd('BufWinEnter', {
    buffer = buf,
    callback = function()
      set_window_options(api.nvim_get_current_win())
    end,
  })
  api.nvim_create_autocmd('BufWipeout', {
    buffer = buf,
    callback = function()
      folds[buf] = nil
      tails[buf] = nil
    end,
  })
  return buf
end

--- Show the chat (and its prompt) in windows; returns the chat window.
function M.show(buf, prompt_buf)
  local o = config.options
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    vim.cmd(o.split)
    win = api.nvim_get_current_win()
    api.nvim_win_set_buf(win, buf)
    set_window_options(win)
    if o.size then
      if o.split:find('vsplit') or o.split:find('vnew') then
        pcall(api.nvim_win_set_width, win, o.size)
      else
        pcall(api.nvim_win_set_height, win, o.size)
      end
    end
  end
  M.follow(buf)
  if prompt_buf then
    local pwin = vim.fn.bufwinid(prompt_buf)
    if pwin == -1 then
      api.nvim_set_current_win(win)
      vim.cmd('belowright ' .. o.prompt_height .. 'split')
      pwin = api.nvim_get_current_win()
      api.nvim_win_set_buf(pwin, prompt_buf)
      vim.wo[pwin].winfixheight = true
      vim.wo[pwin].number = false
      vim.wo[pwin].relativenumber = false
      vim.wo[pwin].signcolumn = 'no'
    end
    api.nvim_set_current_win(pwin)
  else
    api.nvim_set_current_win(win)
  end
  return win
end

--- Keep windows that show the end of the chat at its end (the current window
--- only when its cursor already was on the last lines).
function M.follow(buf, old_count)
  local last = api.nvim_buf_line_count(buf)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    local row = api.nvim_win_get_cursor(win)[1]
    -- A cursor already on the last line stays: setting it re-measures that (wrapped) line, so a
    -- long streamed line made every delta cost its whole length (400 kB: 112 s headless).
    if row ~= last and (win ~= api.nvim_get_current_win() or not old_count or row >= old_count) then
      pcall(api.nvim_win_set_cursor, win, { last, 0 })
    end
  end
end

local function modify(buf, fn)
  local old = api.nvim_buf_line_count(buf)
  vim.bo[buf].modifiable = true
  local ok, err = pcall(fn)
  vim.bo[buf].modifiable = false
  if not ok then
    error(err)
  end
  M.follow(buf, old)
end

local function is_empty(buf)
  return api.nvim_buf_line_count(buf) == 1 and api.nvim_buf_get_lines(buf, 0, 1, false)[1] == ''
end

--- Append lines at the end of the buffer; returns the 1-based number of the first one.
local function append(buf, lines)
  local first
  modify(buf, function()
    if is_empty(buf) then
      api.nvim_buf_set_lines(buf, 0, -1, false, lines)
      first = 1
    else
      first = api.nvim_buf_line_count(buf) + 1
      api.nvim_buf_set_lines(buf, -1, -1, false, lines)
    end
  end)
  return first
end

--- Append `lines` as one folded block (the fold is known before the lines exist).
local function append_block(buf, lines)
  local first = is_empty(buf) and 1 or api.nvim_buf_line_count(buf) + 1
  local ranges = folds[buf]
  ranges[#ranges + 1] = { s = first, e = first + #lines - 1 }
  append(buf, lines)
  return ranges[#ranges]
end

--- Append text at the very end (it may contain newlines; the first piece joins the last line).
local function append_text(buf, text, prefix)
  local pieces = vim.split(text, '\n', { plain = true })
  if prefix then
    for i = 2, #pieces do
      pieces[i] = prefix .. pieces[i]
    end
  end
  modify(buf, function()
    local row = api.nvim_buf_line_count(buf) - 1
    local tail = tails[buf]
    local col
    if tail and tail.row == row and tail.tick == api.nvim_buf_get_changedtick(buf) then
      col = tail.col -- nothing changed the buffer since the last append
    else
      col = #api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
    end
    api.nvim_buf_set_text(buf, row, col, row, col, pieces)
    local last = #pieces == 1 and col + #pieces[1] or #pieces[#pieces]
    tails[buf] = { tick = api.nvim_buf_get_changedtick(buf), row = row + #pieces - 1, col = last }
  end)
  return #pieces - 1
end

local function last_line(buf)
  return api.nvim_buf_get_lines(buf, -2, -1, false)[1] or ''
end

local function separate(buf)
  if not is_empty(buf) and last_line(buf) ~= '' then
    append(buf, { '' })
  end
end

-- ---------------------------------------------------------------- markdown pieces

local function fence(text, lang)
  local ticks = '```'
  while text:find(ticks, 1, true) do
    ticks = ticks .. '`'
  end
  local lines = { ticks .. (lang or '') }
  vim.list_extend(lines, vim.split(text, '\n', { plain = true }))
  lines[#lines + 1] = ticks
  return lines
end

local function summary(input)
  if type(input) ~= 'table' then
    return ''
  end
  for _, key in ipairs({ 'command', 'cmd', 'file_path', 'path', 'pattern', 'url', 'query', 'description' }) do
    local v = input[key]
    if type(v) == 'table' then
      v = table.concat(vim.tbl_map(tostring, v), ' ')
    end
    if type(v) == 'string' and v ~= '' then
      v = v:gsub('%s+', ' ')
      return ' · ' .. (#v > 60 and (v:sub(1, 59) .. '…') or v)
    end
  end
  return ''
end

local function tool_header(name, input)
  return ('> **tool** `%s`%s'):format(name or '?', summary(input))
end

local function tool_input_lines(input)
  local ok, json = pcall(vim.json.encode, input or vim.empty_dict())
  return fence(ok and json or tostring(input), 'json')
end

--- A file edit's tool call shows its change as a unified diff (protocol 1.2 `diff`), other
--- calls their input as JSON.
local function tool_body_lines(input, diff)
  if type(diff) == 'table' and type(diff.newText) == 'string' and type(diff.path) == 'string' then
    local old = type(diff.oldText) == 'string' and diff.oldText or ''
    local differ = vim.text and vim.text.diff or vim.diff
    local ok, hunks = pcall(differ, old, diff.newText, { result_type = 'unified', ctxlen = 3 })
    if ok and type(hunks) == 'string' then
      local from = type(diff.oldText) == 'string' and ('a/' .. diff.path) or '/dev/null'
      local text = ('--- %s\n+++ b/%s\n%s'):format(from, diff.path, hunks)
      return fence((text:gsub('\n$', '')), 'diff')
    end
  end
  return tool_input_lines(input)
end

local function tool_output_lines(output, is_error)
  local lines = {}
  if is_error then
    lines[1] = '> **error**'
  end
  vim.list_extend(lines, fence(output or '', 'text'))
  return lines
end

local function quote(text)
  local lines = {}
  for _, l in ipairs(vim.split(text, '\n', { plain = true })) do
    lines[#lines + 1] = '> ' .. l
  end
  return lines
end

-- ---------------------------------------------------------------- whole turns

--- Replace the whole buffer with a header line.
function M.reset(buf, title)
  folds[buf] = {}
  api.nvim_buf_clear_namespace(buf, ns_turns, 0, -1)
  modify(buf, function()
    api.nvim_buf_set_lines(buf, 0, -1, false, { '# ' .. title })
  end)
end

function M.note(buf, text)
  separate(buf)
  append(buf, { '_' .. text .. '_' })
end

--- Append a user message; returns the number of its first line.
function M.user(buf, text)
  separate(buf)
  local lines = { '## You', '' }
  vim.list_extend(lines, vim.split(text, '\n', { plain = true }))
  return append(buf, lines)
end

--- Insert a note above line `before` (1-based), e.g. above the message it concerns.
function M.note_before(buf, before, text)
  local lines = { '_' .. text .. '_', '' }
  for _, r in ipairs(folds[buf] or {}) do
    if r.s >= before then
      r.s, r.e = r.s + #lines, r.e + #lines
    end
  end
  modify(buf, function()
    api.nvim_buf_set_lines(buf, before - 1, before - 1, false, lines)
  end)
end

local function render_blocks(buf, blocks)
  for _, block in ipairs(blocks or {}) do
    if block.type == 'text' and block.text and block.text ~= '' then
      separate(buf)
      append(buf, vim.split(block.text, '\n', { plain = true }))
    elseif block.type == 'thinking' and block.text and block.text ~= '' then
      separate(buf)
      local lines = { '> *thinking*' }
      vim.list_extend(lines, quote(block.text))
      append_block(buf, lines)
    elseif block.type == 'tool_use' then
      separate(buf)
      local lines = { tool_header(block.name, block.input) }
      vim.list_extend(lines, tool_body_lines(block.input, block.diff))
      if block.output ~= nil and block.output ~= vim.NIL then
        vim.list_extend(lines, tool_output_lines(block.output, block.isError))
      end
      append_block(buf, lines)
    end
  end
end

local function present(v)
  return v ~= nil and v ~= vim.NIL
end

--- The error text of a turn: protocol 1.2's {kind, message}, or the older string. A stored
--- usageLimit failure names the option, as the live one does.
function M.turn_error(turn)
  local e = turn.error
  if type(e) == 'table' then
    local msg = tostring(e.message or e.kind or 'the turn failed')
    return e.kind == 'usageLimit' and M.usage_limit_text(msg) or msg
  end
  return present(e) and tostring(e) or 'the turn failed'
end

function M.turn_failed(turn)
  return turn.status == 'failed' or turn.stopReason == 'error' or present(turn.error)
end

local function thousands(n)
  local s = tostring(math.floor(n))
  return s:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', '')
end

--- "1,234 tokens · $0.0123" for a usage record (nil without figures).
function M.usage_text(usage)
  if type(usage) ~= 'table' then
    return nil
  end
  local tokens = usage.totalTokens
  if not present(tokens) then
    tokens = (tonumber(usage.inputTokens) or 0) + (tonumber(usage.outputTokens) or 0)
  end
  local parts = {}
  if tokens and tokens > 0 then
    parts[#parts + 1] = thousands(tokens) .. ' tokens'
  end
  if present(usage.costUsd) and tonumber(usage.costUsd) then
    parts[#parts + 1] = ('$%.4f'):format(usage.costUsd)
  end
  local ctx, window = tonumber(usage.contextTokens), tonumber(usage.contextWindow)
  local percent = ctx and window and window > 0 and math.floor(100 * ctx / window + 0.5) or 0
  if percent >= 1 then
    parts[#parts + 1] = ('context %d%%'):format(percent)
  end
  return #parts > 0 and table.concat(parts, ' · ') or nil
end

--- The files a turn changed (protocol 1.2 `changes`), as one line; nil when none.
function M.changes_text(turn)
  local changes = type(turn.changes) == 'table' and turn.changes or {}
  if #changes == 0 then
    return nil
  end
  local names = {}
  for _, c in ipairs(changes) do
    names[#names + 1] = ('`%s` (%s)'):format(c.path, c.status)
  end
  return 'changed: ' .. table.concat(names, ', ')
end

local function turn_footer(buf, turn)
  if turn.status == 'cancelled' or turn.stopReason == 'cancelled' then
    M.note(buf, '(cancelled)')
  elseif M.turn_failed(turn) then
    separate(buf)
    append(buf, { '> **error:** ' .. M.turn_error(turn) })
  end
  local changed = M.changes_text(turn)
  if changed then
    local keys = config.keys('diff')
    M.note(buf, changed .. (keys[1] and (' · ' .. keys[1] .. ' shows the diff, :CawRevert undoes it') or ''))
  end
  local usage = M.usage_text(turn.usage)
  if usage then
    M.note(buf, usage)
  end
end

--- A turn's output blocks, without the CLI's copy of a failed turn's error (claude streams
--- "API Error: …"): the error is said once, in the footer, as in a live turn.
function M.said_once(turn)
  local output = type(turn.output) == 'table' and turn.output or {}
  if not M.turn_failed(turn) then
    return output
  end
  local err = M.turn_error(turn)
  return vim.tbl_filter(function(b)
    local text = b.type == 'text' and type(b.text) == 'string' and vim.trim(b.text) or ''
    return text == '' or not err:find(text, 1, true)
  end, output)
end

--- A complete turn from the history (session/resume's `turns`); `n` its 1-based number.
function M.turn(buf, turn, provider, n)
  local first = M.user(buf, turn.input or '')
  if n then
    M.mark_turn(buf, first, n)
  end
  local attached = type(turn.attachments) == 'table' and turn.attachments or {}
  if #attached > 0 then
    M.note(buf, 'attached: ' .. table.concat(
      vim.tbl_map(function(a)
        return a.name or a.uri
      end, attached),
      ', '
    ))
  end
  separate(buf)
  append(buf, { '## ' .. M.provider_name(provider) })
  render_blocks(buf, M.said_once(turn))
  turn_footer(buf, turn)
  M.refresh_folds(buf)
end

--- Mark the "## You" line at `lnum` as turn `n` (the mark moves with the text).
function M.mark_turn(buf, lnum, n)
  pcall(api.nvim_buf_set_extmark, buf, ns_turns, lnum - 1, 0, { id = n })
end

local ns_pins = api.nvim_create_namespace('caw_pins')

--- Pin line `lnum` (1-based): the returned id follows the line as text is inserted above it.
function M.pin(buf, lnum)
  return api.nvim_buf_set_extmark(buf, ns_pins, lnum - 1, 0, {})
end

--- The pinned line now (1-based); the pin is removed. nil when it is gone.
function M.unpin(buf, id)
  if not api.nvim_buf_is_valid(buf) then
    return nil
  end
  local pos = api.nvim_buf_get_extmark_by_id(buf, ns_pins, id, {})
  api.nvim_buf_del_extmark(buf, ns_pins, id)
  return pos[1] and pos[1] + 1 or nil
end

--- The turn number of the turn around `lnum` (the last marked one at or above it).
function M.turn_at(buf, lnum)
  local marks = api.nvim_buf_get_extmarks(buf, ns_turns, { lnum - 1, 0 }, 0, { limit = 1 })
  return marks[1] and marks[1][1] or nil
end

--- The lines of the "## You" headers (]] and [[).
function M.turn_lines(buf)
  local out = {}
  for i, line in ipairs(api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if line == '## You' then
      out[#out + 1] = i
    end
  end
  return out
end

local SPINNER = { '⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏' }

local function draw_busy(buf)
  local sp = spinners[buf]
  if not (sp and api.nvim_buf_is_valid(buf)) then
    return
  end
  sp.frame = sp.frame % #SPINNER + 1
  local last = api.nvim_buf_line_count(buf) - 1
  sp.mark = api.nvim_buf_set_extmark(buf, ns_busy, last, 0, {
    id = sp.mark,
    virt_lines = { { { SPINNER[sp.frame] .. ' working…', 'Comment' } } },
  })
end

--- A "working…" line under the end of the chat while a turn runs (a virtual line, not text).
function M.busy(buf, on)
  local sp = spinners[buf]
  if on and not sp then
    sp = { frame = 0, timer = (vim.uv or vim.loop).new_timer() }
    spinners[buf] = sp
    draw_busy(buf)
    sp.timer:start(
      120,
      120,
      vim.schedule_wrap(function()
        draw_busy(buf)
      end)
    )
  elseif not on and sp then
    sp.timer:stop()
    sp.timer:close()
    spinners[buf] = nil
    if api.nvim_buf_is_valid(buf) then
      api.nvim_buf_clear_namespace(buf, ns_busy, 0, -1)
    end
  end
end

--- The text of the first virtual line in namespace `ns` of `buf`, or nil (tests).
function M.first_virt_line(buf, ns)
  local marks = api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })
  local m = marks[1]
  return m and m[4].virt_lines and m[4].virt_lines[1][1][1] or nil
end

--- The "working…" line shown, or nil (tests).
function M.busy_text(buf)
  return M.first_virt_line(buf, ns_busy)
end

--- The first-run hint of an empty chat.
function M.hint(buf)
  local send = config.keys('send', 'i')[1] or ':CawSend'
  local newline = table.concat(config.keys('newline', 'i'), ' or ')
  newline = newline ~= '' and newline or nil
  local lines = {
    '',
    ('_Type your question in the prompt below and press `%s` to send%s._'):format(
      send,
      newline and (' (`' .. newline:gsub(' or ', '` or `') .. '` starts a new line)') or ''
    ),
    "_`#buffer` and `#file:path` attach context; `:'<,'>CawAdd` attaches the selected lines._",
    ('_`%s` picks the provider, model and reasoning; `%s` lists the keys; %s if something is off._'):format(
      config.keys('options')[1] or ':CawNew',
      config.keys('help')[1] or ':help caw',
      '`:checkhealth caw`'
    ),
  }
  append(buf, lines)
end

-- ---------------------------------------------------------------- usage limits

--- Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's days_from_civil):
--- os.time() reads a date as local time, the daemon's times are UTC.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

--- The epoch seconds of an ISO 8601 time with a zone ("2026-11-30T14:05:00.5Z", "…+00:00"); nil if unreadable.
function M.epoch(iso)
  if type(iso) ~= 'string' then
    return nil
  end
  local y, mo, d, h, mi, s, zone = iso:match('^(%d+)-(%d+)-(%d+)[T ](%d+):(%d+):(%d+)[%.%d]*(.*)$')
  if not y then
    return nil
  end
  local offset = 0
  if zone ~= 'Z' and zone ~= 'z' then
    local sign, oh, om = zone:match('^([+-])(%d%d):?(%d%d)$')
    if not sign then
      return nil -- no zone: the daemon always names UTC, so this is not its time
    end
    offset = (tonumber(oh) * 60 + tonumber(om)) * 60 * (sign == '-' and -1 or 1)
  end
  local days = days_from_civil(tonumber(y), tonumber(mo), tonumber(d))
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) - offset
end

local function duration(minutes)
  if minutes < 60 then
    return ('%d min'):format(minutes)
  end
  local h, m = math.floor(minutes / 60), minutes % 60
  return m == 0 and ('%d h'):format(h) or ('%d h %d min'):format(h, m)
end

--- The local clock time of `epoch`, with the weekday when it is not today.
local function clock(epoch, now)
  local same_day = os.date('%Y-%m-%d', epoch) == os.date('%Y-%m-%d', now)
  return os.date(same_day and '%H:%M' or '%a %H:%M', epoch)
end

--- The line a chat shows while the daemon waits for a usage limit to reset (a `usageLimitWait`
--- update: {waitMinutes, resetsAt, message}); `now` (epoch seconds) defaults to os.time().
function M.wait_text(u, now)
  now = now or os.time()
  local at = M.epoch(u.resetsAt)
  local minutes = at and math.max(1, math.ceil((at - now) / 60)) or tonumber(u.waitMinutes) or 0
  local key = config.keys('cancel')[1]
  return ('Usage limit reached — waiting until %s (about %s), then sending again. %s stops waiting.'):format(
    at and clock(at, now) or '?',
    duration(minutes),
    key and ('`' .. key .. '`') or '`:CawCancel`'
  )
end

--- The note a wait leaves once the message was sent again.
function M.waited_text(u)
  local at = M.epoch(u.resetsAt)
  return ('usage limit: waited until %s, then sent again'):format(at and clock(at, os.time()) or 'the reset')
end

M.WAIT_STOPPED = 'Stopped waiting for the usage limit to reset: the message was not sent again.'

--- A usageLimit failure (auto-wait off) and what would have waited it out.
function M.usage_limit_text(msg)
  return msg .. ' (`auto_wait = true` in setup() waits for the reset and sends again)'
end

-- ---------------------------------------------------------------- streaming

local Stream = {}
Stream.__index = Stream

-- Extending a line costs Neovim the line's whole length (it is copied), so once the streamed
-- line is long its deltas are gathered and written together, at most every FLUSH_MS.
local LONG_LINE = 4096 -- bytes
local FLUSH_MS = 50

--- Start an answer: its header now, its blocks as session/update notifications arrive.
function M.stream(buf, provider)
  separate(buf)
  local header = append(buf, { '## ' .. M.provider_name(provider) })
  -- `kept`: the last line a retried answer (update.replace) must not void, i.e. the last tool block's.
  M.busy(buf, true)
  return setmetatable({ buf = buf, header = header, kept = header, cur = nil, done = false }, Stream)
end

--- Remove the lines after `lnum` and their folds.
local function truncate(buf, lnum)
  drop_folds_from(buf, lnum + 1)
  modify(buf, function()
    api.nvim_buf_set_lines(buf, lnum, -1, false, {})
  end)
end

function Stream:_start_line()
  separate(self.buf)
  append(self.buf, { '' })
end

function Stream:_block(lines)
  separate(self.buf)
  local r = append_block(self.buf, lines)
  M.refresh_folds(self.buf)
  return r
end

--- One session/update `update` ({kind = text|thinking|toolCall|toolResult|usage, ...}).
function Stream:update(u)
  if self.done or type(u) ~= 'table' then
    return
  end
  local buf = self.buf
  if u.kind == 'usageLimitWait' then
    return self:_wait(u)
  elseif self.wait and (u.kind == 'text' or u.kind == 'thinking' or u.kind == 'toolCall') then
    self:_sent_again()
  end
  if (u.kind == 'text' or u.kind == 'thinking') and u.replace == true then
    -- The CLI retried an answer that broke off: what it streamed since the last tool is void.
    self.pending = nil
    truncate(buf, self.kept)
    self.cur = nil
  end
  local streamed = (u.kind == 'text' or u.kind == 'thinking') and type(u.text) == 'string'
  if not (streamed and self.cur and self.cur.kind == u.kind) then
    self:flush() -- gathered text comes before whatever starts now
  end
  if u.kind == 'text' and streamed then
    if not self.cur or self.cur.kind ~= 'text' then
      self:_start_line()
      self.cur = { kind = 'text' }
    end
    self:_add(u.text)
  elseif u.kind == 'thinking' and streamed then
    if not self.cur or self.cur.kind ~= 'thinking' then
      self.cur = { kind = 'thinking', fold = self:_block({ '> *thinking*', '> ' }) }
    end
    self:_add(u.text)
  elseif u.kind == 'toolCall' then
    local lines = { tool_header(u.name, u.input) }
    vim.list_extend(lines, tool_body_lines(u.input, u.diff))
    self.cur = { kind = 'tool', id = u.id, fold = self:_block(lines) }
    self.kept = api.nvim_buf_line_count(buf)
  elseif u.kind == 'toolResult' then
    local lines = tool_output_lines(u.output, u.isError)
    if self.cur and self.cur.kind == 'tool' and self.cur.id == u.id and not self.cur.has_result then
      self.cur.fold.e = self.cur.fold.e + #lines
      append(buf, lines)
      self.cur.has_result = true
    else
      table.insert(lines, 1, ('> **tool result** `%s`'):format(tostring(u.id)))
      self.cur = { kind = 'tool', id = u.id, fold = self:_block(lines), has_result = true }
    end
    self.kept = api.nvim_buf_line_count(buf)
  elseif u.kind == 'usage' then
    self.usage = u.usage
  end
end

--- The daemon waits for a usage limit to reset, then sends the whole turn again: what this
--- attempt streamed is void (it is sent again), and a line with the wait stands in for "working…",
--- its "about N min" kept current.
function Stream:_wait(u)
  self.pending = nil
  truncate(self.buf, self.header)
  self.cur, self.kept = nil, self.header
  M.busy(self.buf, false)
  self:_stop_wait_timer()
  separate(self.buf)
  self.wait = { update = u, line = append(self.buf, { '_' .. M.wait_text(u) .. '_' }) }
  local timer = (vim.uv or vim.loop).new_timer()
  self.wait.timer = timer
  timer:start(
    30000,
    30000,
    vim.schedule_wrap(function()
      if self.wait and self.wait.timer == timer then
        self:_set_wait_line('_' .. M.wait_text(u) .. '_')
      end
    end)
  )
end

function Stream:_stop_wait_timer()
  local timer = self.wait and self.wait.timer
  if timer then
    self.wait.timer = nil
    timer:stop()
    timer:close()
  end
end

--- Rewrite the wait's line (only appended after it: it stays at its number).
function Stream:_set_wait_line(text)
  local line = self.wait.line
  if api.nvim_buf_is_valid(self.buf) and line <= api.nvim_buf_line_count(self.buf) then
    modify(self.buf, function()
      api.nvim_buf_set_lines(self.buf, line - 1, line, false, { text })
    end)
  end
end

--- The resent attempt streams: the wait's line becomes a short note, "working…" is back.
function Stream:_sent_again()
  self:_stop_wait_timer()
  self.waited = M.waited_text(self.wait.update)
  self:_set_wait_line('_' .. self.waited .. '_')
  self.kept = self.wait.line
  self.wait = nil
  M.busy(self.buf, true)
end

--- Whether the daemon is waiting for a usage limit to reset in this turn.
function Stream:waiting()
  return self.wait ~= nil
end

--- Add streamed text to the current text or thinking block: at once, or gathered on a long line.
function Stream:_add(text)
  local tail = tails[self.buf]
  local long = tail and tail.col >= LONG_LINE and tail.tick == api.nvim_buf_get_changedtick(self.buf)
  if not self.pending and not long then
    self:_write(text)
    return
  end
  if not self.pending then
    self.pending = {}
    vim.defer_fn(function()
      self:flush()
    end, FLUSH_MS)
  end
  self.pending[#self.pending + 1] = text
end

function Stream:_write(text)
  if self.cur.kind == 'thinking' then
    local _, added = text:gsub('\n', '')
    self.cur.fold.e = self.cur.fold.e + added
    append_text(self.buf, text, '> ')
  else
    append_text(self.buf, text)
  end
end

--- Write the gathered text now (tests; the stream does it before anything else changes).
function Stream:flush()
  local pending = self.pending
  self.pending = nil
  if pending and not self.done and api.nvim_buf_is_valid(self.buf) then
    self:_write(table.concat(pending))
  end
end

--- The turn is complete: redraw the answer from the daemon's Turn (the record of truth).
function Stream:finish(turn, provider)
  if self.done then
    return
  end
  self.pending = nil
  self.done = true
  M.busy(self.buf, false)
  if self.wait then
    self:_stop_wait_timer() -- sent again, and the answer streamed nothing
    self.waited = M.waited_text(self.wait.update)
    self.wait = nil
  end
  if type(turn) ~= 'table' then
    return
  end
  local buf = self.buf
  truncate(buf, self.header - 1)
  append(buf, { '## ' .. M.provider_name(provider) })
  if self.waited then
    M.note(buf, self.waited)
  end
  render_blocks(buf, turn.output)
  turn_footer(buf, turn)
  M.refresh_folds(buf)
end

--- The turn ended without a Turn (daemon exited, cancelled, request failed).
function Stream:fail(msg, cancelled)
  if self.done then
    return
  end
  self:flush()
  self.done = true
  M.busy(self.buf, false)
  M.refresh_folds(self.buf)
  if self.wait then
    -- It ended while waiting for the usage limit: the wait's line says how.
    self:_stop_wait_timer()
    self:_set_wait_line('_' .. (cancelled and M.WAIT_STOPPED or 'Stopped waiting for the usage limit to reset.') .. '_')
    self.wait = nil
    if cancelled then
      return
    end
  end
  if cancelled then
    M.note(self.buf, '(cancelled)')
  else
    -- The error is said once: the CLI's streamed copy of it (claude streams "API Error: …") goes.
    local streamed = vim.trim(table.concat(api.nvim_buf_get_lines(self.buf, self.kept, -1, false), '\n'))
    if streamed ~= '' and msg:find(streamed, 1, true) then
      truncate(self.buf, self.kept)
    end
    separate(self.buf)
    append(self.buf, { '> **error:** ' .. msg })
  end
end

-- ---------------------------------------------------------------- status line

--- Short status for the winbar/statusline: "caw · title · provider · N tokens".
function M.status(buf, text)
  vim.b[buf].caw_status = text
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    vim.wo[win].winbar = text and (' ' .. text:gsub('%%', '%%%%')) or ''
  end
end

return M
