-- One workspace's chat: which daemon session it is, the state file entry, and
-- the order of operations (load, send, new, resume, end run one at a time, so
-- a send typed while the chat is still resuming waits for the resume).
local config = require('caw.config')
local context = require('caw.context')
local daemon = require('caw.daemon')
local permission = require('caw.permission')
local prompt = require('caw.prompt')
local render = require('caw.render')
local state = require('caw.state')

local M = {}

local Chat = {}
Chat.__index = Chat

local chats = {} ---@type table<string, table> root -> Chat

local function err_text(err)
  if type(err) ~= 'table' then
    return tostring(err)
  end
  local msg = err.message or vim.inspect(err)
  local data = type(err.data) == 'table' and err.data or {}
  if type(data.installHint) == 'string' and not msg:find(data.installHint, 1, true) then
    msg = msg .. ' (' .. data.installHint .. ')'
  end
  return msg
end

local function err_kind(err)
  return type(err) == 'table' and type(err.data) == 'table' and err.data.kind or nil
end

local function notify(msg, level)
  -- One line: a long or multi-line message would stop Neovim with "Press ENTER".
  msg = tostring(msg):gsub('%s*\n%s*', ' ')
  local room = math.max(20, vim.o.columns - 12)
  if #msg > room then
    msg = msg:sub(1, room - 1) .. '…'
  end
  vim.notify('caw: ' .. msg, level or vim.log.levels.ERROR)
end

local function title_of(text)
  local t = vim.trim((text or ''):gsub('%s+', ' '))
  return #t > 60 and (t:sub(1, 59) .. '…') or t
end

--- The chat of a workspace root (created empty on first use).
function M.get(root)
  local chat = chats[root]
  if not chat then
    chat = setmetatable({
      root = root,
      buf = nil,
      session_id = nil, -- the daemon's id of the bound session
      client_id = nil, -- the daemon instance the session lives in
      handle = nil,
      provider = nil,
      title = nil,
      loaded = false,
      ops = {},
      running = false,
      send = nil, -- the turn in flight: {req_id, client_id, stream, token}
      sends = 0,
      usage = nil, -- the chat's totals: {totalTokens, costUsd}
      questions = {}, -- open permission questions: {client_id, ordinal, session_id, window, respond}
      attachments = {}, -- what goes with the next message (:CawAdd)
      source_buf = nil, -- the file buffer `#buffer` means
      trusted = nil, -- the user's answer to untrustedWorkspace in this Neovim
      turns = 0, -- turns in the conversation (turn numbers for diff and revert)
      last_failed = nil, -- {text, attachments} of the last failed message (gr)
      model = nil,
      reasoning = nil,
    }, Chat)
    chats[root] = chat
  end
  return chat
end

--- Every chat of this Neovim (tests, :checkhealth).
function M.all()
  return chats
end

-- ---------------------------------------------------------------- operation queue

function Chat:enqueue(op)
  table.insert(self.ops, op)
  self:_next()
end

function Chat:_next()
  if self.running or #self.ops == 0 then
    return
  end
  local op = table.remove(self.ops, 1)
  self.running = true
  local finished = false
  local ok, e = pcall(op, function()
    if finished then
      return
    end
    finished = true
    self.running = false
    vim.schedule(function()
      self:_next()
    end)
  end)
  if not ok then
    finished = true
    self.running = false
    notify(tostring(e))
    vim.schedule(function()
      self:_next()
    end)
  end
end

-- ---------------------------------------------------------------- buffer

--- Show an error once: in the chat when it is visible, else as a (one-line) notification.
function Chat:_error(msg, level)
  if not (self.buf and vim.api.nvim_buf_is_valid(self.buf) and vim.fn.bufwinid(self.buf) ~= -1) then
    notify(msg, level)
  end
end

function Chat:buffer()
  if not (self.buf and vim.api.nvim_buf_is_valid(self.buf)) then
    local lost = self.buf ~= nil
    self.buf = render.buffer(self.root)
    if not vim.b[self.buf].caw_keys then
      vim.b[self.buf].caw_keys = true
      require('caw.keys').chat(self.buf, self)
    end
    self:_redraw_status()
    if lost and self.loaded then
      -- The user wiped the chat buffer: draw the conversation again.
      self:_header()
      self:_redraw()
    end
  end
  return self.buf
end

--- Redraw the whole conversation from the daemon's record (session/resume of a live session).
function Chat:_redraw()
  if not (self.handle or self.session_id) then
    return
  end
  self:enqueue(function(done)
    self:_ensure_session(function(err, client)
      if err then
        return done()
      end
      self:_resume(client, { handle = self.handle, sessionId = self.session_id }, true, function()
        done()
      end)
    end)
  end)
end

function Chat:prompt_buffer()
  self.prompt_buf = prompt.buffer(self.root, {
    submit = function(text)
      return self:submit(text)
    end,
    cancel = function()
      self:cancel()
    end,
  })
  prompt.show_attachments(self.prompt_buf, context.names(self.attachments))
  return self.prompt_buf
end

function Chat:_header()
  render.reset(self:buffer(), 'caw · ' .. vim.fn.fnamemodify(self.root, ':t'))
  self.turns = 0
end

--- Attach something (caw.context) to the next message; the prompt shows it.
function Chat:add_attachment(a)
  self.attachments[#self.attachments + 1] = a
  if self.prompt_buf then
    prompt.show_attachments(self.prompt_buf, context.names(self.attachments))
  end
  return a
end

--- Attach a line range of a buffer to the next message (:CawAdd).
function Chat:add_range(buf, line1, line2)
  return self:add_attachment(context.range(self.root, buf, line1, line2))
end

function Chat:_redraw_status()
  if not self.buf then
    return
  end
  local parts = { 'caw' }
  if self.title and self.title ~= '' then
    parts[#parts + 1] = self.title
  end
  if self.provider then
    parts[#parts + 1] = render.provider_name(self.provider)
  end
  if self.model or self.reasoning then
    parts[#parts + 1] = (self.model or 'default model') .. (self.reasoning and (' (' .. self.reasoning .. ')') or '')
  end
  local usage = render.usage_text(self.usage)
  if usage then
    parts[#parts + 1] = usage
  end
  render.status(self.buf, table.concat(parts, ' · '))
end

--- Add a turn's usage to the chat's totals.
function Chat:_count(usage)
  if type(usage) ~= 'table' then
    return
  end
  self.usage = self.usage or { totalTokens = 0 }
  local tokens = usage.totalTokens
  if tokens == nil or tokens == vim.NIL then
    tokens = (tonumber(usage.inputTokens) or 0) + (tonumber(usage.outputTokens) or 0)
  end
  self.usage.totalTokens = (self.usage.totalTokens or 0) + tokens
  if tonumber(usage.costUsd) then
    self.usage.costUsd = (self.usage.costUsd or 0) + usage.costUsd
  end
end

function Chat:show(focus_prompt)
  local pbuf = config.options.prompt and self:prompt_buffer() or nil
  local cur = vim.api.nvim_get_current_buf()
  if vim.bo[cur].buftype == '' and vim.api.nvim_buf_get_name(cur) ~= '' then
    self.source_buf = cur -- what #buffer means
  end
  render.show(self:buffer(), pbuf)
  if pbuf and config.options.prompt_insert and focus_prompt ~= false then
    vim.cmd('startinsert!')
  end
end

--- Close the chat's windows (q); the conversation goes on in the background.
function Chat:hide()
  for _, buf in ipairs({ self.buf, self.prompt_buf }) do
    if buf and vim.api.nvim_buf_is_valid(buf) then
      for _, win in ipairs(vim.fn.win_findbuf(buf)) do
        if #vim.api.nvim_list_wins() > 1 then
          pcall(vim.api.nvim_win_close, win, false)
        end
      end
    end
  end
end

-- ---------------------------------------------------------------- state file

function Chat:_remember(previous)
  if not self.session_id then
    return
  end
  local ok, e = pcall(state.remember, self.root, {
    sessionId = self.session_id,
    handle = self.handle,
    provider = self.provider,
    title = self.title,
  }, previous)
  if not ok then
    notify(tostring(e), vim.log.levels.WARN)
  end
end

-- ---------------------------------------------------------------- binding to a daemon session

--- Adopt a session/resume result and draw its turns when asked to.
function Chat:_adopt(client, result, redraw)
  local previous = self.session_id
  self.session_id = result.sessionId
  self.client_id = client.id
  self.provider = result.provider or self.provider
  if result.resumeHandle and result.resumeHandle ~= vim.NIL then
    self.handle = result.resumeHandle
  end
  local turns = type(result.turns) == 'table' and result.turns or {}
  if (not self.title or self.title == '') and turns[1] then
    self.title = title_of(turns[1].input)
  end
  if redraw then
    self:_header()
    self.usage = nil
    for i, turn in ipairs(turns) do
      render.turn(self.buf, turn, self.provider, i)
      self:_count(turn.usage)
    end
    self.turns = #turns
    local last = turns[#turns]
    self.last_failed = last and render.turn_failed(last) and { text = last.input, attachments = {} } or nil
  end
  self:_redraw_status()
  self:_remember(previous)
  return turns
end

--- The permission part of session/start and session/resume: the mode, and the rules
--- this workspace keeps ("Always in this workspace" answers).
function Chat:_permission_params(params)
  params.permissionMode = config.options.permission_mode
  local rules = state.rules(self.root)
  if #rules > 0 then
    params.permissionRules = rules
  end
  return params
end

--- Send session/start or session/resume; on untrustedWorkspace ask the user whether the
--- folder's agent configuration may run, then send it again with `trusted`.
function Chat:_request_trusted(client, method, params, cb)
  if self.trusted ~= nil then
    params.trusted = self.trusted
  end
  daemon.request(client, method, params, function(err, result)
    if not (err and err_kind(err) == 'untrustedWorkspace' and self.trusted == nil) then
      return cb(err, result)
    end
    local files = type(err.data) == 'table' and type(err.data.files) == 'table' and err.data.files or {}
    local choices = { 'Trust', 'Without project configuration', 'Cancel' }
    local ask = ('caw: %s has agent configuration that runs as code: %s'):format(
      vim.fn.fnamemodify(self.root, ':~'),
      table.concat(files, ', ')
    )
    vim.ui.select(choices, { prompt = ask, kind = 'caw.trust' }, function(choice)
      if choice == choices[1] or choice == choices[2] then
        self.trusted = choice == choices[1]
        params.trusted = self.trusted
        return daemon.request(client, method, params, cb)
      end
      cb({ message = 'not started: the workspace is not trusted (' .. table.concat(files, ', ') .. ')' })
    end)
  end)
end

--- session/resume with what we know (handle first, else the bare session id).
function Chat:_resume(client, saved, redraw, cb)
  local params = self:_permission_params({ cwd = self.root, trackChanges = true })
  if saved.handle then
    params.handle = saved.handle
  else
    params.sessionId = saved.sessionId
  end
  self:_request_trusted(client, 'session/resume', params, function(err, result)
    if err then
      return cb(err)
    end
    local turns = self:_adopt(client, result, redraw)
    cb(nil, turns)
  end)
end

function Chat:_start(client, provider, cb)
  local params = self:_permission_params({
    cwd = self.root,
    provider = provider or self.provider or config.options.provider,
    trackChanges = true,
  })
  params.model = self.model or config.options.model
  params.reasoning = self.reasoning
  self:_request_trusted(client, 'session/start', params, function(err, result)
    if err then
      return cb(err)
    end
    self.session_id = result.sessionId
    self.client_id = client.id
    self.provider = result.provider or params.provider
    if result.model and result.model ~= vim.NIL then
      self.model = result.model
    end
    self.handle = nil
    self:_redraw_status()
    self:_remember()
    cb(nil)
  end)
end

--- Make sure the chat is bound to a live session of a running daemon; cb(err, client).
--- A daemon that died or restarted since is transparent: the chat is resumed first.
function Chat:_ensure_session(cb, note_before)
  daemon.ensure(self.root, function(err, client)
    if err then
      return cb(err)
    end
    if self.session_id and self.client_id == client.id then
      return cb(nil, client)
    end
    if self.handle or self.session_id then
      return self:_resume(client, { handle = self.handle, sessionId = self.session_id }, false, function(rerr)
        if rerr and not self.handle then
          -- Nothing was answered yet, so nothing is lost: start afresh.
          self.session_id = nil
          return self:_start(client, nil, function(serr)
            cb(serr, client)
          end)
        end
        if rerr then
          return cb('could not resume the chat: ' .. err_text(rerr) .. ' (:CawNew starts a new one)', client)
        end
        if self.buf then
          local text = 'caw-server restarted; conversation resumed'
          if note_before then
            render.note_before(self.buf, note_before, text)
          else
            render.note(self.buf, text)
          end
        end
        cb(nil, client)
      end)
    end
    self:_start(client, nil, function(serr)
      cb(serr, client)
    end)
  end)
end

-- ---------------------------------------------------------------- operations

--- Load the workspace's current chat from the state file (once per Neovim).
function Chat:load()
  if self.loaded then
    return
  end
  self.loaded = true
  self:_header()
  local saved = state.current(self.root)
  if not saved then
    render.hint(self.buf)
    return
  end
  self.session_id, self.handle = saved.sessionId, saved.handle
  self.provider, self.title = saved.provider, saved.title
  self:_redraw_status()
  self:enqueue(function(done)
    render.note(self.buf, 'resuming ' .. (saved.title or saved.sessionId or 'chat') .. ' …')
    daemon.ensure(self.root, function(err, client)
      if err then
        render.note(self.buf, 'could not reach caw-server: ' .. err_text(err))
        return done()
      end
      self:_resume(client, saved, true, function(rerr)
        if rerr then
          render.note(self.buf, 'could not resume the chat: ' .. err_text(rerr))
          self:_error('could not resume the chat: ' .. err_text(rerr), vim.log.levels.WARN)
        end
        done()
      end)
    end)
  end)
end

--- Send a message (queued behind whatever runs) with the attachments added so far and those
--- its `#buffer` / `#file:path` name. Returns false (nothing sent) when one cannot be read.
function Chat:submit(text, extra)
  local named, err = context.parse(text, self.root, self.source_buf)
  if not named then
    notify(err, vim.log.levels.WARN)
    return false
  end
  local attachments = vim.list_extend(vim.list_extend({}, extra or {}), self.attachments)
  vim.list_extend(attachments, named)
  self.attachments = {}
  if self.prompt_buf then
    prompt.show_attachments(self.prompt_buf, nil)
  end
  self:enqueue(function(done)
    self:_send(text, done, attachments)
  end)
  return true
end

--- gr: send the last failed message again.
function Chat:retry()
  local failed = self.last_failed
  if not failed then
    notify('no failed message to retry', vim.log.levels.INFO)
    return
  end
  self.last_failed = nil
  self:enqueue(function(done)
    self:_send(failed.text, done, failed.attachments)
  end)
end

function Chat:_send(text, done, attachments)
  attachments = attachments or {}
  local buf = self:buffer()
  if not self.title or self.title == '' then
    self.title = title_of(text)
  end
  local user_line = render.user(buf, text)
  local pin = render.pin(buf, user_line) -- a restart note may be put above it
  render.busy(buf, true)
  if #attachments > 0 then
    render.note(buf, 'attached: ' .. context.names(attachments))
  end
  self:_ensure_session(function(err, client)
    if err then
      render.unpin(buf, pin)
      render.stream(buf, self.provider):fail(err_text(err))
      self.last_failed = { text = text, attachments = attachments }
      self:_error(err_text(err))
      return done()
    end
    local stream = render.stream(buf, self.provider)
    self.sends = self.sends + 1
    local params = { sessionId = self.session_id, message = text }
    if #attachments > 0 then
      if daemon.speaks(client, '1.2') then
        params.attachments = vim.tbl_map(context.wire, attachments)
      else
        params.message = context.inline(text, attachments)
      end
    end
    local token
    if config.options.progress then
      token = ('caw/%s/%d'):format(self.session_id, self.sends)
      params.workDoneToken = token
    end
    local send = { client_id = client.id, stream = stream, token = token }
    self.send = send
    send.req_id = daemon.request(client, 'session/send', params, function(serr, result)
      if self.send == send then
        self.send = nil
      end
      -- The turn is over: nobody waits for its questions any more.
      self:_close_questions(function(q)
        return q.session_id == params.sessionId
      end)
      if serr then
        render.unpin(buf, pin)
        local kind = err_kind(serr)
        if serr.code == -32800 or kind == 'cancelled' then
          if stream:waiting() then
            -- Stopped waiting for a usage limit: nothing was answered, gr sends it again.
            self.last_failed = { text = text, attachments = attachments }
          end
          stream:fail('cancelled', true)
        else
          if kind == 'daemonExited' or kind == 'unknownSession' then
            -- The next send resumes the conversation (in a new daemon, or this one).
            self.client_id = nil
            stream:fail(err_text(serr) .. '; the chat resumes with the next message')
          elseif kind == 'usageLimit' then
            stream:fail(render.usage_limit_text(err_text(serr)))
          else
            stream:fail(err_text(serr))
          end
          self.last_failed = { text = text, attachments = attachments }
          self:_error(err_text(serr), vim.log.levels.WARN)
        end
        return done()
      end
      if result.resumeHandle and result.resumeHandle ~= vim.NIL then
        self.handle = result.resumeHandle
      end
      local turn = type(result.turn) == 'table' and result.turn or {}
      self.turns = (tonumber(turn.index) and turn.index + 1) or (self.turns + 1)
      local line = render.unpin(buf, pin)
      if line then
        render.mark_turn(buf, line, self.turns)
      end
      self:_count(turn.usage)
      self.last_failed = render.turn_failed(turn) and { text = text, attachments = attachments } or nil
      self.changed_turn = render.changes_text(turn) and self.turns or self.changed_turn
      stream:finish(result.turn, self.provider)
      self:_redraw_status()
      self:_remember()
      done()
    end)
  end, user_line)
end

-- ---------------------------------------------------------------- permission questions

--- The daemon asks whether a tool may run: show the question, answer with the user's key.
function Chat:ask(client_id, params, ordinal, respond)
  local q = { client_id = client_id, ordinal = ordinal, session_id = params.sessionId, respond = respond }
  table.insert(self.questions, q)
  local ok, e = pcall(function()
    q.window = permission.ask(params, function(choice)
      self:_forget_question(q)
      local rule = permission.workspace_rule(params, choice)
      if rule then
        local saved, serr = pcall(state.add_rule, self.root, rule)
        if not saved then
          notify(tostring(serr), vim.log.levels.WARN)
        end
      end
      respond({ outcome = permission.outcome(params, choice) })
    end)
  end)
  if not ok then
    self:_forget_question(q)
    notify('could not show the permission question: ' .. tostring(e))
    respond({ outcome = { outcome = 'cancelled' } })
  end
end

function Chat:_forget_question(q)
  for i, other in ipairs(self.questions) do
    if other == q then
      table.remove(self.questions, i)
      return
    end
  end
end

--- Close the open questions `which(q)` selects; each is answered "cancelled" (a no-op for
--- a daemon that stopped waiting), unless `unanswered` (the daemon is gone).
function Chat:_close_questions(which, unanswered)
  for _, q in ipairs(vim.list_slice(self.questions)) do
    if which(q) then
      self:_forget_question(q)
      if q.window then
        q.window.close()
      end
      if not unanswered then
        q.respond({ outcome = { outcome = 'cancelled' } })
      end
    end
  end
end

--- The open permission questions (tests, statusline).
function Chat:open_questions()
  return #self.questions
end

--- Stream a session/update into the turn in flight.
function Chat:on_update(client_id, params)
  local send = self.send
  if send and send.client_id == client_id and params.sessionId == self.session_id then
    send.stream:update(params.update)
  end
end

--- The daemon of this chat exited: pending requests fail in daemon.lua; forget the binding.
function Chat:on_exit(client_id)
  if self.client_id == client_id then
    self.client_id = nil
  end
  self:_close_questions(function(q)
    return q.client_id == client_id
  end, true)
end

--- Stop the running turn (session/cancel); the pending send then ends as cancelled.
function Chat:cancel()
  local send = self.send
  if not send then
    notify('no turn is running', vim.log.levels.INFO)
    return
  end
  local client = daemon.get(self.root)
  if not client or client.id ~= send.client_id then
    return
  end
  daemon.request(client, 'session/cancel', { sessionId = self.session_id }, function(err, result)
    if err then
      self:_error(err_text(err), vim.log.levels.WARN)
      return
    end
    -- Neovim drops a RequestCancelled answer, so end the pending send here.
    if result and result.cancelled and send.req_id then
      daemon.abandon(send.client_id, send.req_id)
    end
  end)
end

--- Start a new chat in this workspace (the old one stays in :CawResume's list).
function Chat:new_chat(provider)
  self.loaded = true
  self:enqueue(function(done)
    self.session_id, self.handle, self.client_id, self.title, self.usage = nil, nil, nil, nil, nil
    self.provider = provider or config.options.provider
    self.last_failed, self.changed_turn = nil, nil
    self:_header()
    daemon.ensure(self.root, function(err, client)
      if err then
        render.note(self.buf, err_text(err))
        self:_error(err_text(err))
        return done()
      end
      self:_start(client, provider, function(serr)
        if serr then
          render.note(self.buf, 'could not start a chat: ' .. err_text(serr))
          self:_error(err_text(serr))
        else
          render.note(self.buf, 'new chat with ' .. render.provider_name(self.provider))
        end
        done()
      end)
    end)
  end)
end

--- Switch to another stored chat (an item of M.choices()).
function Chat:resume_chat(item)
  self.loaded = true
  self:enqueue(function(done)
    self:_header()
    self.session_id, self.handle, self.client_id, self.usage = item.sessionId, item.handle, nil, nil
    self.provider, self.title = item.provider, item.title
    render.note(self.buf, 'resuming ' .. (item.title or item.sessionId) .. ' …')
    daemon.ensure(self.root, function(err, client)
      if err then
        render.note(self.buf, err_text(err))
        self:_error(err_text(err))
        return done()
      end
      self:_resume(client, item, true, function(rerr)
        if rerr then
          render.note(self.buf, 'could not resume the chat: ' .. err_text(rerr))
          self:_error(err_text(rerr))
        end
        done()
      end)
    end)
  end)
end

--- This workspace's chats: the state file's and the daemon's session/list, merged.
--- cb(items) with items {sessionId, handle?, provider, title, lastUsed?, numTurns?, live?}.
function Chat:choices(cb)
  local items, seen = {}, {}
  for _, c in ipairs(state.chats(self.root)) do
    items[#items + 1] = c
    seen[c.sessionId] = c
  end
  daemon.ensure(self.root, function(err, client)
    if err then
      return cb(items)
    end
    daemon.request(client, 'session/list', { cwd = self.root }, function(lerr, result)
      for _, s in ipairs((not lerr and result and result.sessions) or {}) do
        local known = seen[s.sessionId]
        if known then
          known.numTurns, known.live = s.turnCount or s.numTurns, s.live
          known.costUsd, known.lastActivity = s.totalCostUsd, s.lastActivity
          if s.title and s.title ~= vim.NIL and s.title ~= '' then
            known.title = known.title or s.title
          end
        else
          items[#items + 1] = {
            sessionId = s.sessionId,
            provider = s.provider,
            title = s.title ~= vim.NIL and s.title or nil,
            numTurns = s.turnCount or s.numTurns,
            live = s.live,
            updatedAt = s.updatedAt,
            costUsd = s.totalCostUsd,
            lastActivity = s.lastActivity,
            corrupted = s.corrupted ~= vim.NIL and s.corrupted or nil,
          }
        end
      end
      cb(items)
    end)
  end)
end

--- End the chat's session (session/end); the next message starts a new chat.
function Chat:end_chat()
  self:enqueue(function(done)
    local client = daemon.get(self.root)
    local function forget()
      self.session_id, self.handle, self.client_id, self.title, self.usage = nil, nil, nil, nil, nil
      pcall(state.clear_current, self.root)
      render.note(self:buffer(), 'chat ended')
      self:_redraw_status()
      done()
    end
    if not (client and self.session_id and self.client_id == client.id) then
      return forget()
    end
    daemon.request(client, 'session/end', { sessionId = self.session_id }, function(err)
      if err then
        notify(err_text(err), vim.log.levels.WARN)
      end
      forget()
    end)
  end)
end

-- ---------------------------------------------------------------- options, review, chats

--- A request to this chat's live session: cb(err, result, client).
function Chat:_call(method, params, cb)
  self:_ensure_session(function(err, client)
    if err then
      return cb(err)
    end
    params.sessionId = self.session_id
    daemon.request(client, method, params, function(rerr, result)
      cb(rerr, result, client)
    end)
  end)
end

--- Change the model or reasoning of the chat: session/configure where the daemon has it (1.2),
--- else for the next new chat.
function Chat:configure(change)
  local client = daemon.get(self.root)
  if not (self.session_id and client and daemon.speaks(client, '1.2')) then
    self.model = change.model or self.model
    self.reasoning = change.reasoning or self.reasoning
    render.note(self:buffer(), 'model/reasoning apply to the next new chat (:CawNew)')
    return self:_redraw_status()
  end
  self:_call('session/configure', change, function(err, result)
    if err then
      render.note(self:buffer(), 'could not change the chat: ' .. err_text(err))
      return self:_error(err_text(err), vim.log.levels.WARN)
    end
    self.model = (result and result.model ~= vim.NIL and result.model) or change.model or self.model
    self.reasoning = (result and result.reasoning ~= vim.NIL and result.reasoning) or change.reasoning or self.reasoning
    render.note(
      self:buffer(),
      ('next turns: %s%s'):format(
        self.model or 'default model',
        self.reasoning and (', reasoning ' .. self.reasoning) or ''
      )
    )
    self:_redraw_status()
  end)
end

--- The models the daemon lists for a provider (providers/models, 1.2); cb(models or nil).
function Chat:_models(provider, cb)
  daemon.ensure(self.root, function(err, client)
    if err or not daemon.speaks(client, '1.2') then
      return cb(nil)
    end
    daemon.request(client, 'providers/models', { provider = provider }, function(merr, result)
      local entry = not merr and result and result.providers and result.providers[1]
      cb(entry and entry.models or nil)
    end)
  end)
end

--- ga: provider, model, reasoning.
function Chat:options()
  local provider = self.provider or config.options.provider
  local items = {
    'Provider: ' .. render.provider_name(provider),
    'Model: ' .. (self.model or 'default'),
    'Reasoning: ' .. (self.reasoning or 'default'),
  }
  vim.ui.select(items, { prompt = 'caw chat', kind = 'caw.options' }, function(_, idx)
    if idx == 1 then
      local names = require('caw').providers()
      vim.ui.select(names, { prompt = 'Provider (a new chat)', format_item = render.provider_name }, function(p)
        if p and p ~= self.provider then
          -- A model or reasoning level of the old provider means nothing to the new one.
          self.model, self.reasoning, self.levels = nil, nil, nil
          self:new_chat(p)
        end
      end)
    elseif idx == 2 then
      self:_models(provider, function(models)
        if not models then
          return vim.ui.input({ prompt = 'Model: ', default = self.model or '' }, function(m)
            if m and m:match('%S') then
              self:configure({ model = vim.trim(m) })
            end
          end)
        end
        vim.ui.select(models, {
          prompt = 'Model',
          format_item = function(m)
            return (m.name or m.id) .. (m.isDefault and ' (default)' or '')
          end,
        }, function(m)
          if m then
            self.levels = m.reasoningLevels
            self:configure({ model = m.id })
          end
        end)
      end)
    elseif idx == 3 then
      local levels = type(self.levels) == 'table' and #self.levels > 0 and self.levels or { 'low', 'medium', 'high' }
      vim.ui.select(levels, { prompt = 'Reasoning' }, function(level)
        if level then
          self:configure({ reasoning = level })
        end
      end)
    end
  end)
end

--- Open the turn's changed files in diff splits (before | after) in a new tab page.
function Chat:diff(turn)
  turn = turn or self.changed_turn or self.turns
  if not turn or turn < 1 then
    return notify('no turn to show', vim.log.levels.INFO)
  end
  self:_call('session/changes', { turn = turn }, function(err, result)
    if err then
      return notify('no diff for turn ' .. turn .. ': ' .. err_text(err), vim.log.levels.WARN)
    end
    local changes = result and result.changes or {}
    if #changes == 0 then
      return notify(('turn %d changed no files'):format(turn), vim.log.levels.INFO)
    end
    local function open(c)
      require('caw.review').open(self.root, turn, c)
    end
    if #changes == 1 then
      return open(changes[1])
    end
    vim.ui.select(changes, {
      prompt = ('Files changed by turn %d'):format(turn),
      format_item = function(c)
        return c.path .. ' (' .. c.status .. ')'
      end,
    }, function(c)
      if c then
        open(c)
      end
    end)
  end)
end

--- :CawRevert: put the turn's files back as they were before it (session/revert).
function Chat:revert(turn)
  turn = turn or self.changed_turn
  if not turn then
    return notify('no turn with changed files to revert', vim.log.levels.INFO)
  end
  self:_call('session/revert', { turn = turn }, function(err, result)
    local buf = self:buffer()
    if err then
      local files = type(err.data) == 'table' and type(err.data.files) == 'table' and err.data.files or nil
      if err_kind(err) == 'filesChangedSince' and files then
        render.note(
          buf,
          ('not reverted: changed since turn %d: %s (nothing was written)'):format(turn, table.concat(files, ', '))
        )
      else
        render.note(buf, 'could not revert turn ' .. turn .. ': ' .. err_text(err))
      end
      return self:_error(err_text(err), vim.log.levels.WARN)
    end
    local reverted = result and result.reverted or {}
    render.note(buf, ('reverted turn %d: %s'):format(turn, table.concat(reverted, ', ')))
    vim.cmd('silent! checktime')
  end)
end

--- Rename a chat (session/rename where the daemon has it; the state file in any case).
function Chat:rename(item, title)
  pcall(state.rename, self.root, item.sessionId, title)
  if item.sessionId == self.session_id then
    self.title = title
    self:_redraw_status()
  end
  daemon.ensure(self.root, function(err, client)
    if not err and daemon.speaks(client, '1.2') then
      daemon.request(client, 'session/rename', { sessionId = item.sessionId, title = title }, function(rerr)
        if rerr then
          notify(err_text(rerr), vim.log.levels.WARN)
        end
      end)
    end
  end)
end

--- Delete a chat: session/delete (1.2: ends it, removes its record) and the state file entry.
function Chat:delete(item)
  pcall(state.forget, self.root, item.sessionId)
  if item.sessionId == self.session_id then
    self.session_id, self.handle, self.client_id, self.title, self.usage = nil, nil, nil, nil, nil
    self:_header()
    render.note(self.buf, 'chat deleted')
    self:_redraw_status()
  end
  daemon.ensure(self.root, function(err, client)
    if not err and daemon.speaks(client, '1.2') then
      daemon.request(client, 'session/delete', { sessionId = item.sessionId }, function(derr)
        if derr then
          notify(err_text(derr), vim.log.levels.WARN)
        end
      end)
    end
  end)
end

-- Route the daemon's notifications to the chats.
daemon.on_update = function(client_id, params)
  for _, chat in pairs(chats) do
    chat:on_update(client_id, params)
  end
end

daemon.on_permission = function(client_id, params, ordinal, respond)
  for _, chat in pairs(chats) do
    if chat.session_id and chat.session_id == params.sessionId and chat.client_id == client_id then
      return chat:ask(client_id, params, ordinal, respond)
    end
  end
  -- No chat of this Neovim shows that session: nobody can answer, so it is not allowed.
  respond({ outcome = { outcome = 'cancelled' } })
end

daemon.on_withdraw = function(client_id, ordinal)
  for _, chat in pairs(chats) do
    chat:_close_questions(function(q)
      return q.client_id == client_id and q.ordinal == ordinal
    end)
  end
end

daemon.on_exit = function(client_id)
  for _, chat in pairs(chats) do
    chat:on_exit(client_id)
  end
end

M.err_text = err_text

return M
