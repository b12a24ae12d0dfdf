-- caw: commands and <Plug> mappings. No default key mappings: map the <Plug>s you want.
if vim.g.loaded_caw then
  return
end
vim.g.loaded_caw = true

if vim.fn.has('nvim-0.10') ~= 1 then
  vim.api.nvim_echo({ { 'caw needs Neovim 0.10 or newer', 'WarningMsg' } }, true, {})
  return
end

local function caw()
  return require('caw')
end

local command = vim.api.nvim_create_user_command

command('Caw', function()
  caw().open()
end, { desc = "Open this workspace's caw chat" })

command('CawSend', function(args)
  if args.range > 0 then
    caw().send(args.args, args.line1, args.line2)
  else
    caw().send(args.args)
  end
end, { nargs = '*', range = true, desc = 'Send a message (or the selected lines) to the caw chat' })

command('CawAdd', function(args)
  if args.range > 0 then
    caw().add(args.line1, args.line2)
  else
    caw().add_file(args.args ~= '' and args.args or nil)
  end
end, {
  range = true,
  nargs = '?',
  complete = 'file',
  desc = 'Attach the lines (the selection), a file, or a picked file to the next caw message',
})

command('CawChats', function()
  caw().chats()
end, { desc = "This workspace's caw chats: open, rename, delete" })

command('CawRevert', function(args)
  caw().revert(args.args ~= '' and args.args or nil)
end, { nargs = '?', desc = 'Undo the file changes of a caw turn (the last one that changed files)' })

command('CawNew', function(args)
  caw().new(args.args)
end, {
  nargs = '?',
  complete = function(lead)
    return vim.tbl_filter(function(name)
      return name:sub(1, #lead) == lead
    end, caw().providers())
  end,
  desc = 'Start a new caw chat in this workspace',
})

command('CawResume', function()
  caw().resume()
end, { desc = "Pick one of this workspace's caw chats" })

command('CawCancel', function()
  caw().cancel()
end, { desc = 'Stop the running caw turn' })

command('CawForgetRules', function()
  caw().forget_rules()
end, { desc = 'Forget the "always in this workspace" permission answers of this workspace' })

command('CawEnd', function()
  caw().end_chat()
end, { desc = "End the caw chat's session" })

local map = vim.keymap.set
map('n', '<Plug>(caw-open)', function()
  caw().open()
end, { desc = 'caw: open chat' })
map('n', '<Plug>(caw-send)', function()
  vim.ui.input({ prompt = 'caw> ' }, function(text)
    if text and text:match('%S') then
      caw().send(text)
    end
  end)
end, { desc = 'caw: send a message' })
-- Leave Visual mode now, not through queued keys: a queued <Esc> reached the question's input
-- instead, and the question's keys then ran as Visual-mode commands on the user's file.
local function selected_lines()
  local line1, line2 = vim.fn.line('v'), vim.fn.line('.')
  if line1 > line2 then
    line1, line2 = line2, line1
  end
  vim.cmd('normal! ' .. vim.api.nvim_replace_termcodes('<Esc>', true, false, true))
  return line1, line2
end
map('x', '<Plug>(caw-send-selection)', function()
  -- The question is typed in the chat's prompt (Insert mode), sent with the lines attached.
  local line1, line2 = selected_lines()
  caw().add(line1, line2, true)
end, { desc = 'caw: ask about the selection' })
map('x', '<Plug>(caw-add)', function()
  local line1, line2 = selected_lines()
  caw().add(line1, line2)
end, { desc = 'caw: attach the selection to the next message' })
map('n', '<Plug>(caw-new)', function()
  caw().new()
end, { desc = 'caw: new chat' })
map('n', '<Plug>(caw-resume)', function()
  caw().resume()
end, { desc = 'caw: resume a chat' })
map('n', '<Plug>(caw-cancel)', function()
  caw().cancel()
end, { desc = 'caw: cancel the running turn' })
map('n', '<Plug>(caw-end)', function()
  caw().end_chat()
end, { desc = 'caw: end the chat' })
