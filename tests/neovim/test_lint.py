"""Lint and format checks of the Lua plugin, run when the tools are installed.

luacheck: Debian's `lua-check` package (apt-get install lua-check).
stylua: npm's `@johnnymorganz/stylua-bin` (the binary ships inside the package).
The load checks in test_plugin.py run everywhere.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import PLUGIN, REPO


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (
            str(p)
            for p in [REPO / "tests" / "backends" / "node_modules" / ".bin" / name]
            if p.exists()
        ),
        None,
    )


def test_luacheck():
    luacheck = _tool("luacheck")
    if not luacheck:
        pytest.skip("luacheck not installed (apt-get install lua-check)")
    proc = subprocess.run(
        [luacheck, "--no-color", "."], cwd=PLUGIN, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stylua_format():
    stylua = _tool("stylua")
    if not stylua:
        pytest.skip("stylua not installed (npm install @johnnymorganz/stylua-bin)")
    proc = subprocess.run(
        [stylua, "--check", "."], cwd=PLUGIN, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
