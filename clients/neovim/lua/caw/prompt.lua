-- The prompt under the chat: an ordinary scratch buffer (several lines, pastes kept whole),
-- the send key, a newline key, the history of sent messages and `#file:` completion.
local config = require('caw.config')
local api = vim.api

local M = {}

local ns = api.nvim_create_namespace('caw_prompt')
local histories = {} ---@type table<string, string[]> root -> sent messages, oldest first
local recall = {} ---@type table<integer, {index: integer?, draft: string[]?}> buf -> browsing state
local roots = {} ---@type table<integer, string> buf -> workspace root

local function text_of(buf)
  return table.concat(api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

local function set_text(buf, lines)
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    local last = #lines
    pcall(api.nvim_win_set_cursor, win, { last, #(lines[last] or '') })
  end
end

--- Remember a sent message (the newest last; a repeat of the newest is not kept twice).
function M.remember(root, text)
  local h = histories[root] or {}
  histories[root] = h
  if h[#h] ~= text then
    h[#h + 1] = text
  end
  while #h > config.options.history_size do
    table.remove(h, 1)
  end
end

function M.history(root)
  return histories[root] or {}
end

--- Step through the history: dir -1 older, +1 newer (past the newest: the draft again).
function M.recall(buf, dir)
  local h = histories[roots[buf]] or {}
  local st = recall[buf] or {}
  recall[buf] = st
  if dir < 0 then
    if #h == 0 then
      return
    end
    if not st.index then
      st.draft = api.nvim_buf_get_lines(buf, 0, -1, false)
      st.index = #h
    elseif st.index > 1 then
      st.index = st.index - 1
    end
  else
    if not st.index then
      return
    end
    st.index = st.index + 1
    if st.index > #h then
      st.index = nil
      set_text(buf, st.draft or { '' })
      return
    end
  end
  set_text(buf, vim.split(h[st.index], '\n', { plain = true }))
end

--- Show what goes with the next message ("attached: …") above the prompt's text.
function M.show_attachments(buf, names)
  if not (buf and api.nvim_buf_is_valid(buf)) then
    return
  end
  api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  if names and names ~= '' then
    api.nvim_buf_set_extmark(buf, ns, 0, 0, {
      virt_lines = { { { 'attached: ' .. names, 'Comment' } } },
      virt_lines_above = true,
    })
  end
end

--- The attached line shown (tests).
function M.attachment_note(buf)
  return require('caw.render').first_virt_line(buf, ns)
end

--- omnifunc: `#file:` completes paths under the workspace root, `#` the context words.
function M.complete(findstart, base)
  local buf = api.nvim_get_current_buf()
  local root = roots[buf] or vim.fn.getcwd()
  if findstart == 1 then
    local col = api.nvim_win_get_cursor(0)[2]
    local before = api.nvim_get_current_line():sub(1, col)
    local s = before:find('#file:[^%s]*$')
    if s then
      return s - 1 + #'#file:'
    end
    s = before:find('#%w*$')
    return s and (s - 1) or -3
  end
  if base:sub(1, 1) == '#' then
    return vim.tbl_filter(function(w)
      return w:sub(1, #base) == base
    end, { '#buffer', '#file:' })
  end
  local items = {}
  for _, path in ipairs(vim.fn.glob(root .. '/' .. base .. '*', false, true)) do
    local rel = path:sub(#root + 2)
    items[#items + 1] = vim.fn.isdirectory(path) == 1 and (rel .. '/') or rel
  end
  return items
end

local function map(buf, modes_of, fn, desc, opts)
  for _, mode in ipairs({ 'n', 'i' }) do
    for _, key in ipairs(config.keys(modes_of, mode)) do
      vim.keymap.set(mode, key, fn, vim.tbl_extend('force', { buffer = buf, desc = 'caw: ' .. desc }, opts or {}))
    end
  end
end

--- The prompt buffer of a workspace. handlers: submit(text) -> false keeps the text; cancel().
function M.buffer(root, handlers)
  local name = 'caw-prompt://' .. root
  local buf = vim.fn.bufnr(name)
  if buf ~= -1 and api.nvim_buf_is_valid(buf) then
    return buf
  end
  buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_name(buf, name)
  roots[buf] = root
  local bo = vim.bo[buf]
  bo.buftype = 'nofile'
  bo.bufhidden = 'hide'
  bo.swapfile = false
  bo.filetype = 'caw_prompt'
  bo.omnifunc = "v:lua.require'caw.prompt'.complete"
  vim.b[buf].caw_root = root

  map(buf, 'send', function()
    local text = text_of(buf)
    if not text:match('%S') then
      return
    end
    if handlers.submit(text) == false then
      return
    end
    M.remember(root, text)
    recall[buf] = nil
    set_text(buf, { '' })
  end, 'send the message')
  for _, key in ipairs(config.keys('newline', 'i')) do
    vim.keymap.set('i', key, '<CR>', { buffer = buf, noremap = true, desc = 'caw: new line' })
  end
  for _, key in ipairs(config.keys('newline', 'n')) do
    vim.keymap.set('n', key, 'o', { buffer = buf, noremap = true, desc = 'caw: new line' })
  end
  for name_, dir in pairs({ history_prev = -1, history_next = 1 }) do
    for _, mode in ipairs({ 'n', 'i' }) do
      for _, key in ipairs(config.keys(name_, mode)) do
        vim.keymap.set(mode, key, function()
          local row = api.nvim_win_get_cursor(0)[1]
          local edge = dir < 0 and row == 1 or (dir > 0 and row == api.nvim_buf_line_count(buf))
          if edge then
            return ('<Cmd>lua require("caw.prompt").recall(%d, %d)<CR>'):format(buf, dir)
          end
          return key
        end, { buffer = buf, expr = true, replace_keycodes = true, desc = 'caw: message history' })
      end
    end
  end
  for _, mode in ipairs({ 'n', 'i' }) do
    for _, key in ipairs(config.keys('cancel', 'n')) do
      vim.keymap.set(mode, key, handlers.cancel, { buffer = buf, desc = 'caw: cancel the running turn' })
    end
  end
  api.nvim_create_autocmd('BufWipeout', {
    buffer = buf,
    callback = function()
      recall[buf], roots[buf] = nil, nil
    end,
  })
  return buf
end

return M
