-- Options of the caw plugin: the defaults, merged with what setup() was given.
local M = {}

M.defaults = {
  -- How to start the daemon; a list as for vim.lsp.start(). Extra flags go here too,
  -- e.g. { "caw-server", "--idle-timeout", "600" }.
  cmd = { 'caw-server' },
  -- Environment additions for the daemon (vim.lsp.start's cmd_env).
  cmd_env = nil,
  -- initializationOptions sent to the daemon (provider, dataDir, idleTimeout, logLevel).
  init_options = nil,
  -- Provider of new chats; nil leaves the choice to the daemon.
  provider = nil,
  -- Model of new chats; nil leaves the choice to the daemon/provider.
  model = nil,
  -- 'ask': every command or edit the agent wants to run is put to you first (a floating
  -- window with the command or the diff). 'bypass': tools run unasked, as the CLI's
  -- "skip permissions" switch. 'deny': tools that need approval are refused.
  permission_mode = 'ask',
  -- Where the per-workspace chat list lives; nil means stdpath("state")/caw/workspaces.json.
  state_file = nil,
  -- Markers that make a directory a workspace root (searched upwards), else the cwd is used.
  root_markers = { '.git' },
  -- The command that opens the chat window (run with the chat buffer as the alternate).
  split = 'botright vsplit',
  -- Width (vertical splits) or height (horizontal ones) of the chat window; nil keeps Vim's choice.
  size = 80,
  -- Open a small prompt buffer below the chat (type, then <CR> in insert mode sends).
  prompt = true,
  -- Height of the prompt window.
  prompt_height = 3,
  -- Report running turns through LSP work-done progress (vim.lsp.status(), fidget.nvim).
  progress = true,
  -- Folded by default: tool calls and thinking.
  fold_tools = true,
  -- How many chats per workspace the state file keeps (least recently used are dropped).
  max_chats = 50,
}

M.options = vim.deepcopy(M.defaults)

M.PERMISSION_MODES = { 'ask', 'bypass', 'deny' }

-- (vim.validate's table form is deprecated in 0.11 and its new form is missing in 0.10.)
local function check(name, value, kind, optional)
  if (value == nil and optional) or type(value) == kind then
    return
  end
  error(('caw.setup: %s must be a %s, got %s'):format(name, kind, type(value)), 3)
end

function M.set(opts)
  check('opts', opts, 'table', true)
  opts = opts or {}
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  local o = M.options
  -- Lists replace the default, they are not merged into it index by index.
  for _, key in ipairs({ 'cmd', 'root_markers' }) do
    if opts[key] ~= nil then
      o[key] = vim.deepcopy(opts[key])
    end
  end
  if type(o.cmd) == 'string' then
    o.cmd = { o.cmd }
  end
  check('cmd', o.cmd, 'table')
  check('cmd_env', o.cmd_env, 'table', true)
  check('init_options', o.init_options, 'table', true)
  check('provider', o.provider, 'string', true)
  check('permission_mode', o.permission_mode, 'string')
  if not vim.tbl_contains(M.PERMISSION_MODES, o.permission_mode) then
    error(("caw.setup: permission_mode must be one of 'ask', 'bypass', 'deny', got %q"):format(o.permission_mode), 2)
  end
  check('state_file', o.state_file, 'string', true)
  check('root_markers', o.root_markers, 'table')
  check('split', o.split, 'string')
  check('prompt', o.prompt, 'boolean')
  check('progress', o.progress, 'boolean')
  check('fold_tools', o.fold_tools, 'boolean')
  return o
end

return M
