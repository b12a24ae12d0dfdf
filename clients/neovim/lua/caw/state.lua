-- The per-workspace chat list: stdpath("state")/caw/workspaces.json.
--
-- It holds resume handles, which grant access to a conversation, so the file is
-- private (0600, in a 0700 directory) and replaced atomically: a crash or a
-- second Neovim never leaves a half-written file behind. Every change reads the
-- file afresh, so two Neovims in different workspaces do not undo each other.
local config = require('caw.config')
local uv = vim.uv or vim.loop

local M = {}

local VERSION = 1
local PRIVATE = 384 -- 0600
local PRIVATE_DIR = 448 -- 0700

function M.path()
  return config.options.state_file or (vim.fn.stdpath('state') .. '/caw/workspaces.json')
end

local function empty()
  return { version = VERSION, workspaces = {} }
end

--- The whole file as a table ({version, workspaces = {[root] = {current, chats}}}).
function M.read()
  local path = M.path()
  local fd = uv.fs_open(path, 'r', PRIVATE)
  if not fd then
    return empty()
  end
  local stat = uv.fs_fstat(fd)
  local data = stat and uv.fs_read(fd, stat.size, 0) or ''
  uv.fs_close(fd)
  local ok, decoded = pcall(vim.json.decode, data, { luanil = { object = true, array = true } })
  if not ok or type(decoded) ~= 'table' or type(decoded.workspaces) ~= 'table' then
    -- A damaged file must not stop the plugin; it is replaced on the next write.
    return empty()
  end
  return decoded
end

local function encode(data)
  -- Empty maps must stay JSON objects.
  local out = { version = VERSION, workspaces = vim.empty_dict() }
  for root, ws in pairs(data.workspaces or {}) do
    out.workspaces[root] = { current = ws.current, chats = ws.chats or {} }
    if #out.workspaces[root].chats == 0 then
      out.workspaces[root].chats = {}
    end
    if type(ws.rules) == 'table' and #ws.rules > 0 then
      out.workspaces[root].rules = ws.rules
    end
  end
  return vim.json.encode(out)
end

--- Write the whole table: temp file (0600), fsync, chmod, rename over the old one.
function M.write(data)
  local path = M.path()
  local dir = vim.fs.dirname(path)
  if vim.fn.isdirectory(dir) == 0 then
    vim.fn.mkdir(dir, 'p', PRIVATE_DIR)
  end
  local tmp = ('%s.%d.%d.tmp'):format(path, uv.os_getpid(), uv.hrtime())
  local fd, err = uv.fs_open(tmp, 'w', PRIVATE)
  if not fd then
    error('caw: cannot write ' .. tmp .. ': ' .. tostring(err))
  end
  local ok, werr = uv.fs_write(fd, encode(data), 0)
  if ok then
    uv.fs_fsync(fd)
  end
  uv.fs_close(fd)
  if not ok then
    uv.fs_unlink(tmp)
    error('caw: cannot write ' .. tmp .. ': ' .. tostring(werr))
  end
  -- The umask may have widened or narrowed the mode given at creation.
  uv.fs_chmod(tmp, PRIVATE)
  local renamed, rerr = uv.fs_rename(tmp, path)
  if not renamed then
    uv.fs_unlink(tmp)
    error('caw: cannot replace ' .. path .. ': ' .. tostring(rerr))
  end
end

--- Read, let fn change the table, write it back.
function M.update(fn)
  local data = M.read()
  fn(data)
  M.write(data)
  return data
end

--- The workspace's entry: {current = sessionId?, chats = {...}} (never nil).
function M.workspace(root, data)
  data = data or M.read()
  local ws = data.workspaces[root]
  if type(ws) ~= 'table' then
    return { chats = {} }
  end
  ws.chats = type(ws.chats) == 'table' and ws.chats or {}
  return ws
end

--- The chat the workspace had open last, or nil.
function M.current(root)
  local ws = M.workspace(root)
  if not ws.current then
    return nil
  end
  for _, chat in ipairs(ws.chats) do
    if chat.sessionId == ws.current then
      return chat
    end
  end
end

--- This workspace's chats, most recently used first.
function M.chats(root)
  local chats = vim.deepcopy(M.workspace(root).chats)
  table.sort(chats, function(a, b)
    return (a.lastUsed or 0) > (b.lastUsed or 0)
  end)
  return chats
end

--- Record (or refresh) a chat: {sessionId, handle?, provider?, title?}; makes it current.
--- `previous` is the session id the chat had before a resume gave it a new one.
function M.remember(root, chat, previous)
  M.update(function(data)
    local ws = M.workspace(root, data)
    local kept = {}
    local entry
    for _, c in ipairs(ws.chats) do
      if c.sessionId == chat.sessionId or (previous and c.sessionId == previous) then
        entry = entry or c
      else
        kept[#kept + 1] = c
      end
    end
    entry = entry or {}
    entry.sessionId = chat.sessionId
    entry.handle = chat.handle or entry.handle
    entry.provider = chat.provider or entry.provider
    entry.title = chat.title or entry.title
    entry.lastUsed = os.time()
    table.insert(kept, 1, entry)
    table.sort(kept, function(a, b)
      return (a.lastUsed or 0) > (b.lastUsed or 0)
    end)
    while #kept > (config.options.max_chats or 50) do
      table.remove(kept)
    end
    ws.chats = kept
    ws.current = chat.sessionId
    data.workspaces[root] = ws
  end)
end

--- Rename a chat in the list.
function M.rename(root, session_id, title)
  M.update(function(data)
    local ws = M.workspace(root, data)
    for _, c in ipairs(ws.chats) do
      if c.sessionId == session_id then
        c.title = title
      end
    end
    data.workspaces[root] = ws
  end)
end

--- Remove a chat from the list (and as current).
function M.forget(root, session_id)
  M.update(function(data)
    local ws = M.workspace(root, data)
    ws.chats = vim.tbl_filter(function(c)
      return c.sessionId ~= session_id
    end, ws.chats)
    if ws.current == session_id then
      ws.current = nil
    end
    data.workspaces[root] = ws
  end)
end

--- Forget which chat is current (after :CawEnd); the chat stays in the list.
function M.clear_current(root)
  M.update(function(data)
    local ws = M.workspace(root, data)
    ws.current = nil
    data.workspaces[root] = ws
  end)
end

local function valid_rule(rule)
  return type(rule) == 'table'
    and type(rule.tool) == 'string'
    and type(rule.pattern) == 'string'
    and (rule.action == 'allow' or rule.action == 'reject')
end

--- The workspace's permission rules ("Always in this workspace" answers), as
--- session/start and session/resume take them: {{tool, pattern, action}, ...}.
function M.rules(root)
  local rules = {}
  for _, rule in ipairs(type(M.workspace(root).rules) == 'table' and M.workspace(root).rules or {}) do
    if valid_rule(rule) then
      rules[#rules + 1] = { tool = rule.tool, pattern = rule.pattern, action = rule.action }
    end
  end
  return rules
end

--- Keep a rule for the workspace (once: an equal rule is not added again).
function M.add_rule(root, rule)
  assert(valid_rule(rule), 'caw: a rule needs tool, pattern and action')
  M.update(function(data)
    local ws = M.workspace(root, data)
    ws.rules = type(ws.rules) == 'table' and ws.rules or {}
    for _, r in ipairs(ws.rules) do
      if r.tool == rule.tool and r.pattern == rule.pattern and r.action == rule.action then
        return
      end
    end
    table.insert(ws.rules, { tool = rule.tool, pattern = rule.pattern, action = rule.action })
    data.workspaces[root] = ws
  end)
end

--- Forget all of the workspace's rules.
function M.clear_rules(root)
  M.update(function(data)
    local ws = M.workspace(root, data)
    ws.rules = nil
    data.workspaces[root] = ws
  end)
end

--- The file's permission bits, or nil when it does not exist.
function M.mode()
  local stat = uv.fs_stat(M.path())
  return stat and (stat.mode % 512) or nil
end

return M
