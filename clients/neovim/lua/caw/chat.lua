-- One workspace's chat: which daemon session it is, the state file entry, and
-- the order of operations (load, send, new, resume, end run one at a time, so
-- a send typed while the chat is still resuming waits for the resume).
local config = require('caw.config')
local daemon = require('caw.daemon')
local permission = require('caw.permission')
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
      usage = nil,
      questions = {}, -- open permission questions: {client_id, ordinal, session_id, window, respond}
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

function Chat:buffer()
  if not (self.buf and vim.api.nvim_buf_is_valid(self.buf)) then
    local lost = self.buf ~= nil
    self.buf = render.buffer(self.root)
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
  return render.prompt_buffer(self.root, function(text)
    self:submit(text)
  end)
end

function Chat:_header()
  render.reset(self:buffer(), 'caw · ' .. vim.fn.fnamemodify(self.root, ':t'))
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
  if self.usage and self.usage.totalTokens then
    parts[#parts + 1] = ('%d tokens'):format(self.usage.totalTokens)
  end
  render.status(self.buf, table.concat(parts, ' · '))
end

function Chat:show()
  local prompt = config.options.prompt and self:prompt_buffer() or nil
  render.show(self:buffer(), prompt)
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
    for _, turn in ipairs(turns) do
      render.turn(self.buf, turn, self.provider)
    end
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

--- session/resume with what we know (handle first, else the bare session id).
function Chat:_resume(client, saved, redraw, cb)
  local params = self:_permission_params({ cwd = self.root })
  if saved.handle then
    params.handle = saved.handle
  else
    params.sessionId = saved.sessionId
  end
  daemon.request(client, 'session/resume', params, function(err, result)
    if err then
      return cb(err)
    end
    local turns = self:_adopt(client, result, redraw)
    cb(nil, turns)
  end)
end

function Chat:_start(client, provider, cb)
  local params =
    self:_permission_params({ cwd = self.root, provider = provider or self.provider or config.options.provider })
  if config.options.model then
    params.model = config.options.model
  end
  daemon.request(client, 'session/start', params, function(err, result)
    if err then
      return cb(err)
    end
    self.session_id = result.sessionId
    self.client_id = client.id
    self.provider = result.provider or params.provider
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
          notify('could not resume the chat: ' .. err_text(rerr), vim.log.levels.WARN)
        end
        done()
      end)
    end)
  end)
end

--- Send a message (queued behind whatever runs).
function Chat:submit(text)
  self:enqueue(function(done)
    self:_send(text, done)
  end)
end

function Chat:_send(text, done)
  local buf = self:buffer()
  if not self.title or self.title == '' then
    self.title = title_of(text)
  end
  local user_line = render.user(buf, text)
  self:_ensure_session(function(err, client)
    if err then
      render.stream(buf, self.provider):fail(err_text(err))
      notify(err_text(err))
      return done()
    end
    local stream = render.stream(buf, self.provider)
    self.sends = self.sends + 1
    local params = { sessionId = self.session_id, message = text }
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
        local kind = err_kind(serr)
        if serr.code == -32800 or kind == 'cancelled' then
          stream:fail('cancelled', true)
        else
          if kind == 'daemonExited' or kind == 'unknownSession' then
            -- The next send resumes the conversation (in a new daemon, or this one).
            self.client_id = nil
            stream:fail(err_text(serr) .. '; the chat resumes with the next message')
          else
            stream:fail(err_text(serr))
          end
          notify(err_text(serr), vim.log.levels.WARN)
        end
        return done()
      end
      if result.resumeHandle and result.resumeHandle ~= vim.NIL then
        self.handle = result.resumeHandle
      end
      if result.turn and result.turn.usage then
        local u = result.turn.usage
        self.usage = self.usage or { totalTokens = 0 }
        self.usage.totalTokens = (self.usage.totalTokens or 0) + (u.totalTokens or 0)
      end
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
      notify(err_text(err), vim.log.levels.WARN)
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
    self:_header()
    daemon.ensure(self.root, function(err, client)
      if err then
        render.note(self.buf, err_text(err))
        notify(err_text(err))
        return done()
      end
      self:_start(client, provider, function(serr)
        if serr then
          render.note(self.buf, 'could not start a chat: ' .. err_text(serr))
          notify(err_text(serr))
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
        notify(err_text(err))
        return done()
      end
      self:_resume(client, item, true, function(rerr)
        if rerr then
          render.note(self.buf, 'could not resume the chat: ' .. err_text(rerr))
          notify(err_text(rerr))
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
          known.numTurns, known.live = s.numTurns, s.live
          if s.title and s.title ~= vim.NIL and s.title ~= '' then
            known.title = known.title or s.title
          end
        else
          items[#items + 1] = {
            sessionId = s.sessionId,
            provider = s.provider,
            title = s.title ~= vim.NIL and s.title or nil,
            numTurns = s.numTurns,
            live = s.live,
            updatedAt = s.updatedAt,
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
