-- caw for Neovim: per-workspace chats with coding agents through caw-server.
--
--   require("caw").setup({ cmd = { "caw-server" }, provider = "claude_code" })
--
-- See :help caw.
local config = require('caw.config')

local M = {}

--- Configure the plugin (optional: the defaults work when caw-server is on $PATH).
function M.setup(opts)
  config.set(opts)
  return M
end

local function realpath(path)
  local uv = vim.uv or vim.loop
  return uv.fs_realpath(path) or vim.fs.normalize(path)
end

--- The workspace root for a buffer: the chat's own root in a caw buffer, else the
--- nearest directory above the buffer's file (or the cwd) with a root marker, else the cwd.
function M.root(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local own = vim.b[buf].caw_root
  if own then
    return own
  end
  local cwd = realpath(vim.fn.getcwd())
  local start = cwd
  local name = vim.api.nvim_buf_get_name(buf)
  if name ~= '' and vim.bo[buf].buftype == '' and vim.fn.filereadable(name) == 1 then
    start = vim.fs.dirname(realpath(name))
  end
  local marker = vim.fs.find(config.options.root_markers, { path = start, upward = true })[1]
  if marker then
    return realpath(vim.fs.dirname(marker))
  end
  return cwd
end

local function chat_for(buf)
  return require('caw.chat').get(M.root(buf))
end

--- :Caw: open the workspace's chat (resuming the last one of this workspace).
function M.open()
  local chat = chat_for()
  chat:load()
  chat:show()
  return chat
end

--- Build the message for a line range of a buffer: the text, then the file and lines.
function M.selection_message(buf, line1, line2, text)
  local lines = vim.api.nvim_buf_get_lines(buf, line1 - 1, line2, false)
  local name = vim.api.nvim_buf_get_name(buf)
  local root = M.root(buf)
  local rel = name ~= '' and realpath(name) or '[No Name]'
  if rel:sub(1, #root + 1) == root .. '/' then
    rel = rel:sub(#root + 2)
  end
  local range = line1 == line2 and ('line %d'):format(line1) or ('lines %d-%d'):format(line1, line2)
  local body = table.concat(lines, '\n')
  local ticks = '```'
  while body:find(ticks, 1, true) do
    ticks = ticks .. '`'
  end
  local parts = {}
  if text and text:match('%S') then
    parts[#parts + 1] = text
    parts[#parts + 1] = ''
  end
  parts[#parts + 1] = ('%s (%s):'):format(rel, range)
  parts[#parts + 1] = ticks .. (vim.bo[buf].filetype or '')
  parts[#parts + 1] = body
  parts[#parts + 1] = ticks
  return table.concat(parts, '\n')
end

--- :'<,'>CawAdd: attach lines of the current buffer to the next message; `ask` then puts the
--- cursor in the prompt (Insert mode) for the question.
function M.add(line1, line2, ask)
  local buf = vim.api.nvim_get_current_buf()
  local chat = chat_for(buf)
  chat:load()
  local a = chat:add_range(buf, line1, line2)
  chat.source_buf = buf
  if ask and not require('caw.config').options.prompt then
    -- No prompt buffer: ask on the command line (Visual mode is already left).
    return vim.ui.input({ prompt = 'caw (' .. a.name .. ')> ' }, function(text)
      if text and text:match('%S') then
        if vim.fn.bufwinid(chat:buffer()) == -1 then
          chat:show(false)
        end
        chat:submit(text)
      else -- cancelled: the lines are not kept for a later message either
        chat.attachments = vim.tbl_filter(function(x)
          return x ~= a
        end, chat.attachments)
      end
    end)
  end
  if ask or vim.fn.bufwinid(chat:buffer()) == -1 then
    chat:show(ask == true)
    if not ask then
      vim.cmd('wincmd p')
    end
  end
  if not ask then -- (with ask the prompt itself shows "attached: …")
    vim.notify('caw: attached ' .. a.name .. ' to the next message', vim.log.levels.INFO)
  end
  return chat
end

--- :CawAdd {file}: attach a file to the next message; without a name, pick one of the
--- workspace's files with vim.ui.select (Telescope, fzf-lua, snacks when they replace it).
function M.add_file(name)
  local chat = chat_for()
  chat:load()
  local function attach(file)
    local a, err = require('caw.context').file(chat.root, file)
    if not a then
      vim.notify('caw: ' .. err, vim.log.levels.WARN)
      return
    end
    chat:add_attachment(a)
    vim.notify('caw: attached ' .. a.name .. ' to the next message', vim.log.levels.INFO)
  end
  if name then
    return attach(name)
  end
  local files = vim.fn.systemlist({ 'git', '-C', chat.root, 'ls-files', '--cached', '--others', '--exclude-standard' })
  if vim.v.shell_error ~= 0 then
    files = vim.tbl_map(function(p)
      return require('caw.context').relative(chat.root, p)
    end, vim.fn.globpath(chat.root, '**/*', false, true))
    files = vim.tbl_filter(function(p)
      return vim.fn.isdirectory(chat.root .. '/' .. p) == 0
    end, files)
  end
  vim.ui.select(files, { prompt = 'Attach a file', kind = 'caw.file' }, function(file)
    if file then
      attach(file)
    end
  end)
end

--- :CawSend {text} / :'<,'>CawSend [text]: send to the workspace's chat, opening it.
--- With a range and no text the lines are attached and the prompt asks for the question.
function M.send(text, line1, line2)
  local buf = vim.api.nvim_get_current_buf()
  local has_text = text and text:match('%S')
  if line1 and line2 and not has_text then
    return M.add(line1, line2, true)
  end
  if not has_text then
    vim.notify('caw: nothing to send', vim.log.levels.WARN)
    return
  end
  local chat = chat_for(buf)
  chat:load()
  local extra
  if line1 and line2 then
    extra = { require('caw.context').range(chat.root, buf, line1, line2) }
  end
  if vim.bo[buf].buftype == '' and vim.api.nvim_buf_get_name(buf) ~= '' then
    chat.source_buf = buf
  end
  if vim.fn.bufwinid(chat:buffer()) == -1 then
    chat:show(false)
  end
  chat:submit(text, extra)
  return chat
end

--- :CawRevert [turn]: undo the file changes of a turn (the last one that changed files).
function M.revert(turn)
  chat_for():revert(tonumber(turn))
end

--- :CawNew [provider]: a new chat in this workspace.
function M.new(provider)
  local chat = chat_for()
  chat:new_chat(provider ~= '' and provider or nil)
  chat:show()
  return chat
end

local function label(item)
  local when = item.lastActivity ~= vim.NIL and item.lastActivity
    or (item.lastUsed and os.date('%Y-%m-%d %H:%M', item.lastUsed))
    or item.updatedAt
    or ''
  when = tostring(when):gsub('T(%d%d:%d%d).*$', ' %1')
  local parts = { item.title or item.sessionId, require('caw.render').provider_name(item.provider), when }
  if item.numTurns then
    parts[#parts + 1] = ('%d turns'):format(item.numTurns)
  end
  if tonumber(item.costUsd) then
    parts[#parts + 1] = ('$%.4f'):format(item.costUsd)
  end
  if item.live then
    parts[#parts + 1] = 'live'
  end
  if type(item.corrupted) == 'string' then
    parts[#parts + 1] = 'record damaged'
  end
  return table.concat(parts, ' · ')
end

--- Puts this workspace's chats (state file + the daemon's session/list) to vim.ui.select.
local function pick_chat(opts, on_choice)
  local chat = chat_for()
  chat:choices(function(items)
    if #items == 0 then
      vim.notify('caw: no stored chats for ' .. chat.root, vim.log.levels.INFO)
      return
    end
    vim.ui.select(items, vim.tbl_extend('force', { format_item = label }, opts), function(item)
      on_choice(chat, item)
    end)
  end)
end

--- :CawResume: pick one of this workspace's chats and resume it.
function M.resume()
  pick_chat({ prompt = 'Resume caw chat' }, function(chat, item)
    if item then
      chat:resume_chat(item)
      chat:show()
    end
  end)
end

--- :CawChats: this workspace's chats; pick one, then open, rename or delete it.
function M.chats()
  pick_chat({ prompt = 'caw chats', kind = 'caw.chats' }, function(chat, item)
    if not item then
      return
    end
    local actions = { 'Open', 'Rename', 'Delete' }
    vim.ui.select(actions, { prompt = item.title or item.sessionId }, function(action)
      if action == 'Open' then
        chat:resume_chat(item)
        chat:show()
      elseif action == 'Rename' then
        vim.ui.input({ prompt = 'New title: ', default = item.title or '' }, function(title)
          if title and title:match('%S') then
            chat:rename(item, vim.trim(title))
          end
        end)
      elseif action == 'Delete' then
        vim.ui.select(
          { 'Delete', 'Cancel' },
          { prompt = 'Delete "' .. (item.title or item.sessionId) .. '"?' },
          function(c)
            if c == 'Delete' then
              chat:delete(item)
            end
          end
        )
      end
    end)
  end)
end

--- :CawCancel: stop the running turn.
function M.cancel()
  chat_for():cancel()
end

--- :CawEnd: end the chat's session; the next message starts a new chat.
function M.end_chat()
  chat_for():end_chat()
end

--- :CawForgetRules: forget this workspace's "always in this workspace" answers.
function M.forget_rules()
  local root = M.root()
  require('caw.state').clear_rules(root)
  vim.notify('caw: forgot the permission rules of ' .. root, vim.log.levels.INFO)
end

--- Providers for :CawNew completion: what the running daemon reported, else the known ones.
function M.providers()
  local daemon = require('caw.daemon')
  local client = daemon.get(M.root())
  local result = client and daemon.info(client.id)
  local caw = result and vim.tbl_get(result, 'capabilities', 'experimental', 'caw', 'providers')
  local names = {}
  for _, p in ipairs(type(caw) == 'table' and caw or {}) do
    names[#names + 1] = p.name
  end
  if #names == 0 then
    names = { 'claude_code', 'codex', 'opencode' }
  end
  return names
end

--- Text for a statusline: the running turn's progress, else the chat's status.
function M.statusline()
  local buf = vim.api.nvim_get_current_buf()
  return vim.b[buf].caw_status or ''
end

return M
