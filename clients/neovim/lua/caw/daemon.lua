-- The connection to caw-server: one Neovim LSP client per workspace root.
--
-- Neovim's own client does the framing, process handling, :LspInfo and
-- $/progress (so vim.lsp.status() and fidget.nvim show running turns). This
-- module adds what the plugin needs on top: waiting for `initialize` before the
-- first request, routing session/update notifications, and failing the
-- requests still pending when the daemon exits (Neovim drops them silently).
local config = require('caw.config')

local M = {}

local NAME = 'caw'
-- The caw protocol major version this plugin speaks (1.x daemons only add to it).
local PROTOCOL_MAJOR = '1'
local has_011 = vim.fn.has('nvim-0.11') == 1

local by_root = {} ---@type table<string, integer> root -> client id
local waiting = {} ---@type table<integer, function[]> client id -> callbacks until initialized
local pending = {} ---@type table<integer, table<integer, function>> client id -> request id -> callback
local info = {} ---@type table<integer, table> client id -> initialize result

--- Handlers the plugin registers: session/update, session/didChange, exit.
M.on_update = function(_client_id, _params) end
M.on_change = function(_client_id, _params) end
M.on_exit = function(_client_id, _root) end
--- session/requestPermission: call respond(result) once, now or later.
M.on_permission = function(_client_id, _params, _ordinal, respond)
  respond({ outcome = { outcome = 'cancelled' } })
end
--- The daemon stopped waiting for the question with this ordinal (timeout, cancelled turn).
M.on_withdraw = function(_client_id, _ordinal) end

local asked = {} ---@type table<integer, integer> client id -> permission questions received

--- Answer a server request later: Neovim runs request handlers in a coroutine and sends
--- what the handler returns, so the handler yields until respond() is called.
local function answer_later(ask)
  local co = coroutine.running()
  if not co or not coroutine.isyieldable() then
    return nil, { code = -32603, message = 'caw: this Neovim cannot answer requests asynchronously' }
  end
  local result, waiting_for = nil, false
  local responded = false
  ask(function(value)
    if responded then
      return
    end
    responded = true
    result = value
    if waiting_for then
      local ok, err = coroutine.resume(co, value)
      if not ok then
        vim.notify('caw: answering the daemon failed: ' .. tostring(err), vim.log.levels.ERROR)
      end
    end
  end)
  if responded then
    return result
  end
  waiting_for = true
  return coroutine.yield()
end

local function get_client(id)
  local client = id and vim.lsp.get_client_by_id(id)
  if not client then
    return nil
  end
  local stopped
  if has_011 then
    stopped = client:is_stopped()
  else
    stopped = client.is_stopped()
  end
  if stopped then
    return nil
  end
  return client
end

--- The running, initialized client for `root`, or nil.
function M.get(root)
  local client = get_client(by_root[root])
  if client and info[client.id] then
    return client
  end
end

--- Whether the client's daemon speaks caw protocol `version` ("1.2") or later.
function M.speaks(client, version)
  local have = vim.tbl_get(info[client.id] or {}, 'capabilities', 'experimental', 'caw', 'protocolVersion')
  if type(have) ~= 'string' then
    return false
  end
  local hmaj, hmin = have:match('^(%d+)%.(%d+)')
  local wmaj, wmin = version:match('^(%d+)%.(%d+)')
  hmaj, hmin, wmaj, wmin = tonumber(hmaj), tonumber(hmin), tonumber(wmaj), tonumber(wmin)
  if not (hmaj and wmaj) then
    return false
  end
  return hmaj > wmaj or (hmaj == wmaj and hmin >= wmin)
end

--- The daemon's initialize result (serverInfo, capabilities) for a client.
function M.info(client_id)
  return info[client_id]
end

local function flush(id, err, client)
  local cbs = waiting[id] or {}
  waiting[id] = nil
  for _, cb in ipairs(cbs) do
    cb(err, client)
  end
end

local function exited(root, id, code, signal)
  if by_root[root] == id then
    by_root[root] = nil
  end
  local msg = ('caw-server exited (code %s, signal %s)'):format(tostring(code), tostring(signal))
  flush(id, msg, nil)
  local reqs = pending[id] or {}
  pending[id] = nil
  for _, cb in pairs(reqs) do
    cb({ code = -32099, message = msg, data = { kind = 'daemonExited' } }, nil)
  end
  info[id] = nil
  asked[id] = nil
  M.on_exit(id, root)
end

--- initializationOptions: the permission mode, that this client answers questions and
--- auto-wait when set, then whatever init_options the user set (which win).
local function init_options(o)
  local base = { permissionMode = o.permission_mode, clientCapabilities = { permissions = true } }
  if o.auto_wait ~= nil then
    base.autoWait = o.auto_wait -- unset: the daemon's own default ($CAW_AUTOWAIT)
  end
  return vim.tbl_deep_extend('force', base, o.init_options or {})
end

--- The LSP client config for a workspace (exposed for :checkhealth and tests).
function M.client_config(root)
  local o = config.options
  return {
    name = NAME,
    cmd = o.cmd,
    cmd_cwd = root,
    cmd_env = o.cmd_env,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = init_options(o),
    handlers = {
      ['session/requestPermission'] = function(_, params, ctx)
        local id = ctx.client_id
        asked[id] = (asked[id] or 0) + 1
        local ordinal = asked[id]
        return answer_later(function(respond)
          M.on_permission(id, params, ordinal, respond)
        end)
      end,
      ['$/cancelRequest'] = function(_, params, ctx)
        -- The daemon numbers its questions caw-permission-1, -2, ... in the order sent.
        local n = type(params) == 'table'
          and type(params.id) == 'string'
          and params.id:match('^caw%-permission%-(%d+)$')
        if n then
          M.on_withdraw(ctx.client_id, tonumber(n))
        end
      end,
      ['session/update'] = function(_, params, ctx)
        M.on_update(ctx.client_id, params)
      end,
      ['session/didChange'] = function(_, params, ctx)
        M.on_change(ctx.client_id, params)
      end,
    },
  }
end

local function start(root)
  local cfg = M.client_config(root)
  local exe = cfg.cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    return nil,
      ('caw: %s not found (set cmd in require("caw").setup{}); install with: pip install coding-agent-wrapper'):format(
        exe
      )
  end
  local id
  cfg.on_init = function(client, result)
    info[client.id] = result
    local version = vim.tbl_get(result or {}, 'capabilities', 'experimental', 'caw', 'protocolVersion')
    if type(version) == 'string' and version:match('^%d+') ~= PROTOCOL_MAJOR then
      vim.schedule(function()
        vim.notify(
          ('caw: caw-server speaks protocol %s, this plugin %s.x; update one of them'):format(version, PROTOCOL_MAJOR),
          vim.log.levels.WARN
        )
      end)
    end
    vim.schedule(function()
      flush(client.id, nil, client)
    end)
  end
  cfg.on_exit = function(code, signal, client_id)
    vim.schedule(function()
      exited(root, client_id or id, code, signal)
    end)
  end
  if has_011 then
    -- attach = false: the chat buffer is not a document the daemon should see.
    id = vim.lsp.start(cfg, {
      attach = false,
      reuse_client = function()
        return false
      end,
    })
  else
    id = vim.lsp.start_client(cfg)
  end
  if not id then
    return nil, 'caw: could not start ' .. table.concat(cfg.cmd, ' ')
  end
  by_root[root] = id
  waiting[id] = waiting[id] or {}
  pending[id] = {}
  return id
end

--- Call cb(err, client) with an initialized client for `root`, starting the daemon if needed.
function M.ensure(root, cb)
  local id = by_root[root]
  local client = get_client(id)
  if client and info[id] then
    return cb(nil, client)
  end
  if not client then
    local err
    id, err = start(root)
    if not id then
      return cb(err)
    end
  end
  waiting[id] = waiting[id] or {}
  table.insert(waiting[id], cb)
end

--- Send a request; cb(err, result) runs exactly once, also when the daemon exits first.
--- Returns the request id (or nil when the request could not be sent).
function M.request(client, method, params, cb)
  local done = false
  local req_id
  local function finish(err, result)
    if done then
      return
    end
    done = true
    if req_id and pending[client.id] then
      pending[client.id][req_id] = nil
    end
    cb(err, result)
  end
  local handler = function(err, result)
    finish(err, result)
  end
  local ok
  if has_011 then
    ok, req_id = client:request(method, params, handler)
  else
    ok, req_id = client.request(method, params, handler)
  end
  if not ok or not req_id then
    finish({ code = -32099, message = 'caw-server is not running', data = { kind = 'daemonExited' } })
    return nil
  end
  if not done then
    pending[client.id] = pending[client.id] or {}
    pending[client.id][req_id] = finish
  end
  return req_id
end

--- Stop waiting for a request (Neovim never calls back for a RequestCancelled answer).
--- cb, if the request was still pending, gets err.
function M.abandon(client_id, req_id, err)
  local cb = pending[client_id] and pending[client_id][req_id]
  if cb then
    cb(err or { code = -32800, message = 'cancelled', data = { kind = 'cancelled' } })
  end
end

--- Stop the daemon of a workspace (all of them without a root).
function M.stop(root)
  for r, id in pairs(by_root) do
    if not root or r == root then
      local client = get_client(id)
      if client then
        if has_011 then
          client:stop()
        else
          client.stop()
        end
      end
    end
  end
end

--- Every workspace root with a running daemon.
function M.roots()
  local roots = {}
  for r, id in pairs(by_root) do
    if get_client(id) then
      roots[#roots + 1] = r
    end
  end
  return roots
end

return M
