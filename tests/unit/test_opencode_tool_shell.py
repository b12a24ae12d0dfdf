"""The shell wrapper opencode serve's tools run with drops serve's password and runs the
user's shell (caw.providers.opencode.tool_shell)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

from caw.providers.opencode.tool_shell import wrap_shell


def test_the_wrapper_hides_the_password_and_runs_the_real_shell(tmp_path):
    bash = shutil.which("bash")
    assert bash is not None
    env = {**os.environ, "SHELL": bash}
    wrapped = wrap_shell(env)
    assert wrapped is not None
    folder, path = wrapped
    try:
        assert os.path.basename(path) == "bash"  # opencode picks the arguments by this name
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        out = subprocess.run(
            [path, "-c", 'echo "${#OPENCODE_SERVER_PASSWORD}:${OPENCODE_SERVER_USERNAME-}:$X"'],
            env={**env, "OPENCODE_SERVER_PASSWORD": "p" * 43, "OPENCODE_SERVER_USERNAME": "u",
                 "X": "kept"},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert out.stdout == "0::kept\n"
    finally:
        shutil.rmtree(folder)


def test_a_shell_opencode_refuses_is_replaced_by_bash():
    wrapped = wrap_shell({**os.environ, "SHELL": "/usr/bin/fish"})
    assert wrapped is not None
    try:
        assert os.path.basename(wrapped[1]) == "bash"
    finally:
        shutil.rmtree(wrapped[0])
