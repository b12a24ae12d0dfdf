-- Context for a question: `#buffer`, `#file:path` in the text, and line ranges added with
-- :'<,'>CawAdd. They travel as ACP content blocks (session/send `attachments`, protocol 1.2);
-- a daemon before 1.2 gets them written into the message instead.
local M = {}

local MAX_BYTES = 1024 * 1024 -- what the daemon accepts per attachment

local function realpath(path)
  local uv = vim.uv or vim.loop
  return uv.fs_realpath(path) or vim.fs.normalize(path)
end

--- `path` relative to `root` when inside it, else as it is.
function M.relative(root, path)
  if path:sub(1, #root + 1) == root .. '/' then
    return path:sub(#root + 2)
  end
  return path
end

local function fence(body, lang)
  local ticks = '```'
  while body:find(ticks, 1, true) do
    ticks = ticks .. '`'
  end
  return ticks .. (lang or '') .. '\n' .. body .. '\n' .. ticks
end

--- A range of a buffer: {kind='range', path, name, line1, line2, text, filetype}.
function M.range(root, buf, line1, line2)
  local name = vim.api.nvim_buf_get_name(buf)
  local path = name ~= '' and realpath(name) or nil
  return {
    kind = 'range',
    path = path,
    name = (path and M.relative(root, path) or '[No Name]')
      .. (line1 == line2 and (':' .. line1) or (':%d-%d'):format(line1, line2)),
    line1 = line1,
    line2 = line2,
    text = table.concat(vim.api.nvim_buf_get_lines(buf, line1 - 1, line2, false), '\n'),
    filetype = vim.bo[buf].filetype,
  }
end

--- A whole buffer as it is now (also unsaved changes).
function M.buffer(root, buf)
  local a = M.range(root, buf, 1, vim.api.nvim_buf_line_count(buf))
  a.kind = 'buffer'
  a.name = a.path and M.relative(root, a.path) or '[No Name]'
  return a
end

--- A file named by the user (relative to root or absolute); nil and a reason when unusable.
function M.file(root, name)
  local path = name:sub(1, 1) == '/' and name or (root .. '/' .. name)
  path = realpath(path)
  local stat = (vim.uv or vim.loop).fs_stat(path)
  if not stat or stat.type ~= 'file' then
    return nil, ('#file:%s: no such file'):format(name)
  end
  if stat.size > MAX_BYTES then
    return nil, ('#file:%s: larger than 1 MiB'):format(name)
  end
  return { kind = 'file', path = path, name = M.relative(root, path) }
end

--- The attachments the text names: `#buffer` (source_buf) and `#file:path`.
--- Returns the list, or nil and the first error.
function M.parse(text, root, source_buf)
  local out, seen = {}, {}
  for name in text:gmatch('#file:(%S+)') do
    if not seen[name] then
      seen[name] = true
      local a, err = M.file(root, name)
      if not a then
        return nil, err
      end
      out[#out + 1] = a
    end
  end
  if text:find('#buffer%f[%W]') or text:find('#buffer$') then
    if not (source_buf and vim.api.nvim_buf_is_valid(source_buf)) then
      return nil, '#buffer: no file buffer to attach (open a file first)'
    end
    out[#out + 1] = M.buffer(root, source_buf)
  end
  return out
end

--- The ACP content block of an attachment (session/send `attachments`).
function M.wire(a)
  if a.kind == 'file' then
    return { type = 'resource_link', uri = vim.uri_from_fname(a.path), name = a.name }
  end
  local uri = a.path and vim.uri_from_fname(a.path) or ('untitled:' .. a.name)
  if a.kind == 'range' then
    uri = uri .. ('#L%d-L%d'):format(a.line1, a.line2)
  end
  return { type = 'resource', resource = { uri = uri, text = a.text } }
end

--- The message with the attachments written into it (daemons before protocol 1.2).
function M.inline(text, attachments)
  local parts = { text }
  for _, a in ipairs(attachments) do
    local body, lang = a.text, a.filetype
    if a.kind == 'file' then
      local fd = io.open(a.path, 'rb')
      body = fd and fd:read('*a') or ''
      if fd then
        fd:close()
      end
      body = body:gsub('\n$', '')
      lang = vim.filetype.match({ filename = a.path }) or ''
    end
    local label = a.kind == 'range' and a.name:gsub(':(%d+)-(%d+)$', ' (lines %1-%2):'):gsub(':(%d+)$', ' (line %1):')
      or (a.name .. ':')
    parts[#parts + 1] = label .. '\n' .. fence(body, lang)
  end
  return table.concat(parts, '\n\n')
end

--- Short names for the prompt's "attached" line.
function M.names(attachments)
  return table.concat(
    vim.tbl_map(function(a)
      return a.name
    end, attachments),
    ', '
  )
end

return M
