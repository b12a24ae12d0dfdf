-- Review of a turn's edits: a tab page with the file before the turn and after it, side by
-- side in Neovim's own diff mode (session/changes gives both texts).
local api = vim.api

local M = {}

local function scratch(name, text, filetype)
  local buf = vim.fn.bufnr(name)
  if buf == -1 or not api.nvim_buf_is_valid(buf) then
    buf = api.nvim_create_buf(false, true)
    api.nvim_buf_set_name(buf, name)
  end
  vim.bo[buf].modifiable = true
  -- A file's final newline ends its last line; it is not an empty line of its own.
  local lines = text and vim.split((text:gsub('\n$', '')), '\n', { plain = true }) or {}
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  if filetype then
    vim.bo[buf].filetype = filetype
  end
  return buf
end

--- Open one change ({path, status, before, after}) of turn `turn` as a diff; returns the tab.
--- The right side is the file itself when it still holds the turn's text (so `do` / `dp`
--- take hunks back), else the recorded after-state.
function M.open(root, turn, change)
  local path = change.path:sub(1, 1) == '/' and change.path or (root .. '/' .. change.path)
  local before = change.before ~= vim.NIL and change.before or nil
  local after = change.after ~= vim.NIL and change.after or nil
  local ft = vim.filetype.match({ filename = path })
  vim.cmd('tabnew')
  local tab = api.nvim_get_current_tabpage()
  local left = scratch(('caw-before://%d/%s'):format(turn, change.path), before, ft)
  api.nvim_win_set_buf(0, left)
  vim.cmd('diffthis')
  vim.cmd('rightbelow vsplit')
  local on_disk
  local fd = io.open(path, 'rb')
  if fd then
    on_disk = fd:read('*a')
    fd:close()
  end
  if after and on_disk == after then
    vim.cmd('edit ' .. vim.fn.fnameescape(path))
  else
    api.nvim_win_set_buf(0, scratch(('caw-after://%d/%s'):format(turn, change.path), after, ft))
  end
  vim.cmd('diffthis')
  vim.t[tab].caw_review = { turn = turn, path = change.path }
  return tab
end

return M
