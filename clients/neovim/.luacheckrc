-- luacheck (Debian: apt-get install lua-check): luacheck clients/neovim
std = 'luajit'
globals = { 'vim' }
max_line_length = 120
exclude_files = { 'doc/**' }
