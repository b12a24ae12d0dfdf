-- :checkhealth caw: the daemon and its version, the provider CLIs it reports, the permission
-- mode, auto-wait, the state file's permissions.
local config = require('caw.config')
local daemon = require('caw.daemon')
local state = require('caw.state')

local M = {}

local PRIVATE = 384 -- 0600

--- The running daemon's initialize result for this workspace, starting one for
--- the check (and stopping it again) when none runs. Returns result, err.
local function daemon_info(root)
  local client = daemon.get(root)
  if client and daemon.info(client.id) then
    return daemon.info(client.id)
  end
  local done, err, got
  daemon.ensure(root, function(e, c)
    done, err = true, e
    got = c and daemon.info(c.id)
  end)
  vim.wait(20000, function()
    return done
  end, 50)
  if not client then
    daemon.stop(root)
  end
  if not done then
    return nil, 'caw-server did not answer initialize within 20 s'
  end
  return got, err
end

--- What :checkhealth says of auto-wait: `auto_wait` the initializationOptions.autoWait sent
--- (nil: not sent), `cmd` the daemon's command, `env` its $CAW_AUTOWAIT (nil: unset). The
--- daemon takes the option, else its --auto-wait/--no-auto-wait flag, else $CAW_AUTOWAIT.
function M.auto_wait_text(auto_wait, cmd, env)
  if auto_wait == true then
    return 'auto-wait: on (auto_wait = true): a message that hits the usage limit is sent again once it resets'
  elseif auto_wait == false then
    return 'auto-wait: off (auto_wait = false): a message that hits the usage limit fails'
  end
  env = type(env) == 'string' and env or nil
  local default
  if vim.tbl_contains(cmd or {}, '--auto-wait') then
    default = '--auto-wait in cmd: on'
  elseif vim.tbl_contains(cmd or {}, '--no-auto-wait') then
    default = '--no-auto-wait in cmd: off'
  else
    local value = vim.trim(env or ''):lower()
    local on = value ~= '' and not vim.tbl_contains({ '0', 'false', 'no', 'off' }, value)
    default = (value == '' and '$CAW_AUTOWAIT not set' or ('$CAW_AUTOWAIT=%s'):format(env))
      .. (on and ': on' or ': off')
  end
  return ("auto-wait: the daemon's default (%s); setup({ auto_wait = true }) turns it on"):format(default)
end

function M.check()
  local health = vim.health
  health.start('caw')

  if vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.10 or newer is needed')
  end

  local cmd = config.options.cmd
  local exe = cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    health.error(('daemon %q not found'):format(exe), {
      'install caw: pip install coding-agent-wrapper (or pipx install coding-agent-wrapper),'
        .. ' so that caw-server is on $PATH',
      'or point setup({ cmd = { "/path/to/caw-server" } }) at it',
    })
  else
    health.ok(('daemon: %s (%s)'):format(table.concat(cmd, ' '), vim.fn.exepath(exe)))
    local root = require('caw').root()
    local result, err = daemon_info(root)
    if not result then
      health.error(
        'caw-server did not start: ' .. tostring(err),
        { 'run ' .. exe .. ' --log-level debug by hand to see why' }
      )
    else
      local si = result.serverInfo or {}
      local caw = vim.tbl_get(result, 'capabilities', 'experimental', 'caw') or {}
      health.ok(
        ('%s %s, protocol %s'):format(si.name or 'caw-server', si.version or '(no version)', caw.protocolVersion or '?')
      )
      local providers = type(caw.providers) == 'table' and caw.providers or {}
      if #providers == 0 then
        health.warn('the daemon reported no providers')
      end
      local installed = 0
      for _, p in ipairs(providers) do
        if p.installed then
          installed = installed + 1
          health.ok(
            ('provider %s: installed%s'):format(
              p.name,
              p.version and p.version ~= vim.NIL and (' (' .. p.version .. ')') or ''
            )
          )
        else
          health.info(('provider %s: not installed'):format(p.name))
        end
      end
      if #providers > 0 and installed == 0 then
        health.error('no provider CLI is installed', { 'install claude, codex or opencode' })
      end
    end
  end

  local permission_mode = config.options.permission_mode
  if permission_mode == 'bypass' then
    health.warn('permission_mode = "bypass": the agent runs every command and edit without asking', {
      'setup({ permission_mode = "ask" }) (the default) asks first; see :help caw-permissions',
    })
  else
    health.ok(
      ('permission_mode = %q'):format(permission_mode)
        .. (
          permission_mode == 'ask' and ': the agent asks before each command or edit'
          or ': tools that need approval are refused'
        )
    )
  end

  local options = daemon.client_config(require('caw').root()).init_options
  local env = (config.options.cmd_env or {}).CAW_AUTOWAIT or vim.env.CAW_AUTOWAIT
  health.info(M.auto_wait_text(options.autoWait, config.options.cmd, env))

  local path = state.path()
  local mode = state.mode()
  if not mode then
    health.info('no state file yet (' .. path .. '); it is created with the first chat')
  elseif mode == PRIVATE then
    health.ok(('state file %s: mode 0600'):format(path))
  else
    health.error(
      ('state file %s has mode %o; it holds resume handles and must be private'):format(path, mode),
      { 'chmod 600 ' .. vim.fn.shellescape(path) }
    )
  end
  if mode then
    local ok, data = pcall(state.read)
    if ok then
      local n = 0
      for _ in pairs(data.workspaces or {}) do
        n = n + 1
      end
      health.info(('%d workspace(s) with stored chats'):format(n))
    end
  end
end

return M
