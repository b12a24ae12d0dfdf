"""The Neovim test harness itself (conftest.py): an editor that fails to start is not left
running (the `editors` fixture only closes the editors it got back)."""

from __future__ import annotations

import os

import pytest

from tests.support.procs import matching

from .conftest import make_workspace


def test_a_failed_setup_leaves_no_neovim_behind(editors, nvim_env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(Exception, match="cmd_env must be a table"):
        editors(ws, nvim_env, {"cmd_env": "not a table"})
    assert matching("--listen", root=os.getpid()) == []  # no nvim under this test process
