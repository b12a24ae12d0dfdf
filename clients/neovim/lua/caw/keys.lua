-- The chat buffer's own keys (config.keymaps) and the `?` float that lists them.
local config = require('caw.config')
local render = require('caw.render')
local api = vim.api

local M = {}

-- name -> what it does (the help float and :help caw-keys say the same).
M.DESCRIPTIONS = {
  { 'send', 'send the prompt (prompt buffer)' },
  { 'newline', 'new line in the prompt (prompt buffer)' },
  { 'history_prev', 'previous message, on the first prompt line' },
  { 'history_next', 'next message, on the last prompt line' },
  { 'close', 'close the chat' },
  { 'next_turn', 'next turn' },
  { 'prev_turn', 'previous turn' },
  { 'yank_code', 'yank the code block under the cursor' },
  { 'cancel', 'stop the running turn' },
  { 'options', 'provider, model, reasoning' },
  { 'retry', 'send the failed message again' },
  { 'diff', "diff of the turn's changed files" },
  { 'help', 'this help' },
}

local function key_text(name)
  local v = config.options.keymaps[name]
  if type(v) == 'table' and (v.n ~= nil or v.i ~= nil) then
    local parts = {}
    for _, mode in ipairs({ 'n', 'i' }) do
      local keys = config.keys(name, mode)
      if #keys > 0 then
        parts[#parts + 1] = mode .. ' ' .. table.concat(keys, ' ')
      end
    end
    return table.concat(parts, ', ')
  end
  return table.concat(config.keys(name), ' ')
end

--- The lines of the help float.
function M.help_lines()
  local lines = { ' caw chat keys' }
  for _, d in ipairs(M.DESCRIPTIONS) do
    local k = key_text(d[1])
    if k ~= '' then
      lines[#lines + 1] = (' %-16s %s'):format(k, d[2])
    end
  end
  vim.list_extend(lines, { '', ' :CawAdd :CawChats :CawRevert :CawNew :CawEnd', ' q or <Esc> closes this window' })
  return lines
end

--- Show the help float; returns its window.
function M.help()
  local lines = M.help_lines()
  local buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = 'wipe'
  local width = 0
  for _, l in ipairs(lines) do
    width = math.max(width, vim.fn.strdisplaywidth(l) + 1)
  end
  local win = api.nvim_open_win(buf, true, {
    relative = 'editor',
    width = math.min(width, vim.o.columns - 4),
    height = #lines,
    row = math.max(0, math.floor((vim.o.lines - #lines) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    style = 'minimal',
    border = 'rounded',
    title = ' caw ',
  })
  for _, key in ipairs({ 'q', '<Esc>', '?' }) do
    vim.keymap.set('n', key, function()
      pcall(api.nvim_win_close, win, true)
    end, { buffer = buf, nowait = true })
  end
  return win
end

--- Jump to the next (dir 1) or previous (dir -1) "## You" line.
function M.jump(buf, dir)
  local row = api.nvim_win_get_cursor(0)[1]
  local lines = render.turn_lines(buf)
  local target
  for _, l in ipairs(lines) do
    if dir > 0 and l > row and not target then
      target = l
    elseif dir < 0 and l < row then
      target = l
    end
  end
  if target then
    api.nvim_win_set_cursor(0, { target, 0 })
    vim.cmd('normal! zt')
  end
end

--- The fenced code block around (or else above) line `row`: its text, or nil.
function M.code_block(buf, row)
  local lines = api.nvim_buf_get_lines(buf, 0, -1, false)
  local blocks, open = {}, nil
  for i, l in ipairs(lines) do
    local ticks = l:match('^(```+)')
    if ticks then
      if not open then
        open = { s = i, ticks = ticks }
      elseif l:match('^' .. open.ticks .. '%s*$') then
        blocks[#blocks + 1] = { s = open.s, e = i }
        open = nil
      end
    end
  end
  local pick
  for _, b in ipairs(blocks) do
    if b.s <= row then
      pick = b
    end
  end
  if not pick then
    return nil
  end
  return table.concat(vim.list_slice(lines, pick.s + 1, pick.e - 1), '\n')
end

--- Yank the code block under the cursor into the unnamed and + registers.
function M.yank(buf)
  local code = M.code_block(buf, api.nvim_win_get_cursor(0)[1])
  if not code then
    vim.notify('caw: no code block here', vim.log.levels.INFO)
    return
  end
  vim.fn.setreg('"', code)
  if vim.fn.has('clipboard') == 1 then -- without a provider, setting + prints an error
    pcall(vim.fn.setreg, '+', code)
  end
  vim.notify(('caw: yanked %d lines'):format(#vim.split(code, '\n')), vim.log.levels.INFO)
end

--- Set the chat buffer's keys; `chat` is the caw.chat object.
function M.chat(buf, chat)
  local actions = {
    close = function()
      chat:hide()
    end,
    next_turn = function()
      M.jump(buf, 1)
    end,
    prev_turn = function()
      M.jump(buf, -1)
    end,
    yank_code = function()
      M.yank(buf)
    end,
    cancel = function()
      chat:cancel()
    end,
    options = function()
      chat:options()
    end,
    retry = function()
      chat:retry()
    end,
    diff = function()
      chat:diff(render.turn_at(buf, api.nvim_win_get_cursor(0)[1]))
    end,
    help = M.help,
  }
  for name, fn in pairs(actions) do
    for _, key in ipairs(config.keys(name)) do
      vim.keymap.set('n', key, fn, { buffer = buf, nowait = true, desc = 'caw: ' .. name:gsub('_', ' ') })
    end
  end
end

return M
