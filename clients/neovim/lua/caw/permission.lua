-- Permission questions: the daemon asks (session/requestPermission, the Agent
-- Client Protocol's shape) before a tool runs; this module shows the question in
-- a floating window (the command, or the edit as a diff) and turns the key the
-- user presses into the answer.
local api = vim.api

local M = {}

--- The four answers, in the order they are offered. `kind` is the option kind
--- answered; "workspace" answers allow_always and keeps the rule for the workspace.
M.CHOICES = {
  { key = 'a', choice = 'once', label = 'Allow once', kind = 'allow_once' },
  { key = 'c', choice = 'chat', label = 'Always for this chat', kind = 'allow_always' },
  { key = 'w', choice = 'workspace', label = 'Always in this workspace', kind = 'allow_always' },
  { key = 'r', choice = 'reject', label = 'Reject', kind = 'reject_once' },
}

local by_choice = {}
for _, c in ipairs(M.CHOICES) do
  by_choice[c.choice] = c
end

--- The answer to send for a choice: the offered option of the choice's kind. An option
--- the daemon did not offer is never invented: the answer falls back to a reject.
function M.outcome(params, choice)
  local wanted = by_choice[choice] and by_choice[choice].kind or 'reject_once'
  local reject
  for _, option in ipairs(type(params.options) == 'table' and params.options or {}) do
    if option.kind == wanted then
      return { outcome = 'selected', optionId = option.optionId }
    end
    if option.kind == 'reject_once' then
      reject = option.optionId
    end
  end
  if reject then
    return { outcome = 'selected', optionId = reject }
  end
  return { outcome = 'cancelled' }
end

--- The workspace rule a "workspace" answer keeps ({tool, pattern, action}), or nil.
function M.workspace_rule(params, choice)
  local rule = params.alwaysRule
  if choice ~= 'workspace' or type(rule) ~= 'table' then
    return nil
  end
  if type(rule.tool) ~= 'string' or type(rule.pattern) ~= 'string' then
    return nil
  end
  return { tool = rule.tool, pattern = rule.pattern, action = 'allow' }
end

local function text_or_nil(value)
  return type(value) == 'string' and value or nil
end

--- One file's change as unified diff lines (Neovim's own xdiff).
local function diff_lines(change)
  local path = text_or_nil(change.path) or '?'
  local old = text_or_nil(change.oldText) or ''
  local new = text_or_nil(change.newText) or ''
  local diff = (vim.text and vim.text.diff or vim.diff)(old, new, { result_type = 'unified', ctxlen = 3 })
  local new_file = change.oldText == nil or change.oldText == vim.NIL
  local lines = { '--- ' .. (new_file and '/dev/null' or ('a/' .. path)), '+++ b/' .. path }
  local body = type(diff) == 'string' and diff or ''
  vim.list_extend(lines, vim.split(body:gsub('\n$', ''), '\n', { plain = true }))
  return lines
end

--- What the window shows: the title, the command or the diffs, then the keys.
--- Returns lines and whether they are a diff.
function M.lines(params)
  local call = type(params.toolCall) == 'table' and params.toolCall or {}
  local lines = {}
  local is_diff = false
  local content = type(call.content) == 'table' and call.content or {}
  for _, change in ipairs(content) do
    if type(change) == 'table' and change.type == 'diff' then
      vim.list_extend(lines, diff_lines(change))
      is_diff = true
    end
  end
  if not is_diff then
    local input = type(call.rawInput) == 'table' and call.rawInput or {}
    local command = text_or_nil(input.command) or text_or_nil(input.cmd)
    if type(input.command) == 'table' then
      command = table.concat(input.command, ' ')
    end
    for _, line in ipairs(vim.split(command or text_or_nil(call.title) or '?', '\n', { plain = true })) do
      lines[#lines + 1] = '$ ' .. line
    end
    lines[1] = lines[1] or '$ ?'
  end
  return lines, is_diff
end

function M.keys_line()
  local parts = {}
  for _, c in ipairs(M.CHOICES) do
    parts[#parts + 1] = ('[%s] %s'):format(c.key, c.label)
  end
  return table.concat(parts, '  ')
end

--- Show the question; on_choice(choice) runs once with 'once', 'chat', 'workspace' or
--- 'reject' (closing the window unanswered rejects). Returns {close = fn(), win, buf}.
function M.ask(params, on_choice)
  local call = type(params.toolCall) == 'table' and params.toolCall or {}
  local body, is_diff = M.lines(params)
  local keys = M.keys_line()
  local buf = api.nvim_create_buf(false, true)
  vim.bo[buf].bufhidden = 'wipe'
  api.nvim_buf_set_lines(buf, 0, -1, false, body)
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = is_diff and 'diff' or 'sh'

  local width = #keys
  for _, line in ipairs(body) do
    width = math.max(width, vim.fn.strdisplaywidth(line))
  end
  width = math.max(20, math.min(width + 2, vim.o.columns - 4))
  local height = math.max(1, math.min(#body, vim.o.lines - 8))
  local title = (' caw asks: %s (%s) '):format(
    text_or_nil(call.title) or 'run a tool',
    text_or_nil(call.kind) or 'other'
  )
  if vim.fn.strdisplaywidth(title) > width then
    title = vim.fn.strcharpart(title, 0, width - 2) .. '… '
  end
  vim.cmd('stopinsert')
  local win = api.nvim_open_win(buf, true, {
    relative = 'editor',
    row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    width = width,
    height = height,
    style = 'minimal',
    border = 'rounded',
    title = title,
    title_pos = 'center',
    footer = ' ' .. keys .. ' ',
    footer_pos = 'center',
  })
  vim.wo[win].wrap = false
  vim.b[buf].caw_permission = call.toolCallId or true

  local answered = false
  local handle = { win = win, buf = buf }
  local function answer(choice)
    if answered then
      return
    end
    answered = true
    handle.close()
    on_choice(choice)
  end
  function handle.close()
    answered = true
    if api.nvim_win_is_valid(win) then
      pcall(api.nvim_win_close, win, true)
    end
  end
  for _, c in ipairs(M.CHOICES) do
    vim.keymap.set('n', c.key, function()
      answer(c.choice)
    end, { buffer = buf, nowait = true, desc = 'caw: ' .. c.label })
  end
  for _, key in ipairs({ 'q', '<Esc>' }) do
    vim.keymap.set('n', key, function()
      answer('reject')
    end, { buffer = buf, nowait = true, desc = 'caw: Reject' })
  end
  -- Closed some other way (:q, :only): nobody allowed it, so it is rejected.
  api.nvim_create_autocmd('BufWipeout', {
    buffer = buf,
    once = true,
    callback = function()
      vim.schedule(function()
        answer('reject')
      end)
    end,
  })
  return handle
end

return M
