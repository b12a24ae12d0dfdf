"""Checks that keep the data dir private, so nothing planted in it is trusted.

The data dir holds resume keys and the ``cwd`` a resumed session starts its agent in: whoever
can write it can make caw run code. So caw refuses a data dir (or ``sessions/``) that another
user owns or that group or others may write, refuses symlinked folders inside it, and opens
every file there with ``O_NOFOLLOW``. Once the root and ``sessions/`` are private, nobody but
the user (or root) can plant anything below them; the per-folder checks catch what was copied
or linked in by the user's own tools.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import UnsafeDataDir


def check_private_dir(path: Path, what: str) -> bool:
    """Whether ``path`` exists; raise UnsafeDataDir if it is a link, not a folder, someone
    else's, or writable by group or others."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UnsafeDataDir(f"cannot inspect {what} {path}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeDataDir(
            f"{what} {path} is a symbolic link; caw does not follow links inside its data dir "
            "(remove the link, or point caw at the real folder)"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDataDir(f"{what} {path} is not a folder")
    me = os.geteuid()
    if st.st_uid != me:
        raise UnsafeDataDir(
            f"{what} {path} belongs to uid {st.st_uid}, not to you (uid {me}): another user "
            "could plant sessions there that run code when resumed. Use a data dir of your own "
            f"(or, if it is yours: chown -R {me} {path})"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeDataDir(
            f"{what} {path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):03o}): "
            f"they could plant sessions there that run code when resumed. Fix: chmod 700 {path}"
        )
    return True


def open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    """``os.open`` that refuses a symbolic link as the last part of ``path``."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeDataDir(
                f"{path} is a symbolic link; caw does not follow links inside its data dir"
            ) from None
        raise


def read_text_nofollow(path: Path) -> str:
    """The UTF-8 text of ``path``, refusing a symbolic link (FileNotFoundError if absent)."""
    fd = open_nofollow(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        return f.read().decode("utf-8")
