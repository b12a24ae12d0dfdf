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
  -- On a usage limit: true waits until the limit resets and sends the message again (the chat
  -- says until when; the cancel key stops waiting); false fails the message at once. nil leaves
  -- it to the daemon (its --auto-wait flag or $CAW_AUTOWAIT, else off).
  auto_wait = nil,
  -- Where the per-workspace chat list lives; nil means stdpath("state")/caw/workspaces.json.
  state_file = nil,
  -- Markers that make a directory a workspace root (searched upwards), else the cwd is used.
  root_markers = { '.git' },
  -- The command that opens the chat window (run with the chat buffer as the alternate).
  split = 'botright vsplit',
  -- Width (vertical splits) or height (horizontal ones) of the chat window; nil keeps Vim's choice.
  size = 80,
  -- Open a prompt buffer below the chat (several lines; see keymaps.send and keymaps.newline).
  prompt = true,
  -- Height of the prompt window.
  prompt_height = 4,
  -- Start in Insert mode when the prompt window is focused.
  prompt_insert = true,
  -- How many sent messages the prompt remembers (<Up>/<Down> on its first/last line).
  history_size = 100,
  -- Keys: each a key (string), a list of keys, or false to leave it unmapped.
  -- Prompt keys name their modes ({ n = ..., i = ... }); chat keys are Normal mode.
  keymaps = {
    send = { n = '<CR>', i = '<CR>' }, -- send the prompt's text
    newline = { i = { '<S-CR>', '<C-j>' } }, -- insert a line break in the prompt
    history_prev = { n = '<Up>', i = '<Up>' }, -- on the first line: the previous message
    history_next = { n = '<Down>', i = '<Down>' }, -- on the last line: the next message
    close = 'q', -- close the chat and prompt windows
    next_turn = ']]',
    prev_turn = '[[',
    yank_code = 'gy', -- yank the code block under (or above) the cursor
    cancel = '<C-c>', -- stop the running turn (also in the prompt)
    options = 'ga', -- provider, model, reasoning
    retry = 'gr', -- send the last failed message again
    diff = 'gd', -- the changed files of the turn under the cursor, as a diff
    help = '?',
  },
  -- Keep the chat window as a markdown buffer that render-markdown.nvim / markview.nvim render.
  conceallevel = 2,
  -- Report running turns through LSP work-done progress (vim.lsp.status(), fidget.nvim).
  progress = true,
  -- Folded by default: tool calls and thinking.
  fold_tools = true,
  -- How many chats per workspace the state file keeps (least recently used are dropped).
  max_chats = 50,
}

M.options = vim.deepcopy(M.defaults)

M.PERMISSION_MODES = { 'ask', 'bypass', 'deny' }

--- The keys of a keymap option for `mode`: {} when unmapped (false/nil).
--- A plain string or list applies to every mode; a table with n/i keys per mode.
function M.keys(name, mode)
  local value = M.options.keymaps[name]
  if type(value) == 'table' and (value.n ~= nil or value.i ~= nil) then
    value = value[mode or 'n']
  elseif mode and mode ~= 'n' then
    value = nil -- chat keys are Normal-mode keys
  end
  if not value then
    return {}
  end
  return type(value) == 'string' and { value } or value
end

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
  -- A key given replaces the default's modes and keys, not merged with them.
  for name, value in pairs(type(opts.keymaps) == 'table' and opts.keymaps or {}) do
    o.keymaps[name] = vim.deepcopy(value)
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
  check('auto_wait', o.auto_wait, 'boolean', true)
  check('state_file', o.state_file, 'string', true)
  check('root_markers', o.root_markers, 'table')
  check('split', o.split, 'string')
  check('prompt', o.prompt, 'boolean')
  check('progress', o.progress, 'boolean')
  check('fold_tools', o.fold_tools, 'boolean')
  check('prompt_insert', o.prompt_insert, 'boolean')
  check('keymaps', o.keymaps, 'table')
  return o
end

return M
