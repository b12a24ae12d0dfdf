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
map('x', '<Plug>(caw-send-selection)', function()
  -- The selection's lines while still in visual mode ('< and '> are set only on leaving it).
  local line1, line2 = vim.fn.line('v'), vim.fn.line('.')
  if line1 > line2 then
    line1, line2 = line2, line1
  end
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<Esc>', true, false, true), 'n', false)
  vim.ui.input({ prompt = 'caw (selection)> ' }, function(text)
    if text then
      caw().send(text, line1, line2)
    end
  end)
end, { desc = 'caw: send the selection' })
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
