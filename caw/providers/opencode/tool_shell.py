"""The shell opencode serve runs its tools' commands with: the user's own, started through a
two-line wrapper that drops serve's password from the environment first (issue 21, finding 9).

opencode serve reads its password from ``OPENCODE_SERVER_PASSWORD``, and its bash tool and
PTY API start ``$SHELL`` with serve's whole environment, so a tool command could read the
password and call the server that runs it. opencode takes ``$SHELL`` as is when it is an
absolute path to a file, and chooses the shell's arguments by its base name, so the wrapper
carries the real shell's name (``bash``, ``zsh``...) in a private folder. (A ``shell.env``
plugin did the same, but any plugin makes serve wait for its config folders' dependency
installs from the network first, which hung serve offline: docs/reliability.md.)
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping

from ..process import private_file, private_folder

# What opencode would run its tools with (its Shell.acceptable): a shell it knows by name.
KNOWN_SHELLS = ("bash", "zsh", "sh", "dash", "ksh")
HIDDEN = ("OPENCODE_SERVER_PASSWORD", "OPENCODE_SERVER_USERNAME")


def real_shell(env: Mapping[str, str]) -> str | None:
    """The shell opencode would choose: ``$SHELL`` if it is one it accepts, else bash."""
    shell = env.get("SHELL", "")
    if os.path.isabs(shell) and os.path.isfile(shell) and os.path.basename(shell) in KNOWN_SHELLS:
        return shell
    return shutil.which("bash", path=env.get("PATH")) or shutil.which("bash")


def wrap_shell(env: Mapping[str, str]) -> tuple[str, str] | None:
    """A private folder holding the wrapper, and the wrapper's path (for ``SHELL``); None when
    there is no shell to wrap (opencode then falls back to /bin/sh with the password)."""
    shell = real_shell(env)
    if shell is None:
        return None
    folder = private_folder("caw-opencode-shell-")
    script = f'#!/bin/sh\nunset {" ".join(HIDDEN)}\nexec {shlex.quote(shell)} "$@"\n'
    path = private_file(folder, os.path.basename(shell), script)
    os.chmod(path, 0o700)
    return folder, path
