"""The user's trusted folders: a folder trusted once is not asked about again until its agent
configuration changes (issue 21, finding 1; like Neovim's ``vim.secure``).

One JSON file per user, owner-only (0600 in a 0700 folder), replaced atomically under a lock:
``$CAW_TRUST_FILE``, else ``$CAW_HOME/trust.json``, else ``trust.json`` in the platform's
state dir (``~/.local/state/caw/`` on Linux). Each entry is a folder's real path with a
digest of the agent configuration found there (:func:`caw.trust.agent_config_files`: names,
contents, link targets); a changed hook, plugin or MCP server changes the digest, and the
folder is asked about again. A store that is a link, someone else's, or writable by group or
others is ignored (with a warning): whoever can write it could make caw run their code.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from .store import atomic_write_text

log = logging.getLogger("caw.trust")

TRUST_FILE_ENV = "CAW_TRUST_FILE"
# What a digest skips: what the CLIs write there themselves (opencode, once trusted, writes
# .opencode/.gitignore naming node_modules and the lock files it installs plugins' dependencies
# with), so that running a trusted folder does not make it untrusted. package.json counts.
SKIPPED_NAMES = frozenset({"node_modules", ".gitignore", "bun.lock", "package-lock.json", ".git"})


class TrustedFolder(BaseModel):
    digest: str = Field(description="sha256 of the agent configuration found when trusted.")
    files: list[str] = Field(description="That configuration, relative to the folder.")
    trusted_at: datetime.datetime


class TrustFile(BaseModel):
    """The store on disk."""

    version: Literal[1] = 1
    folders: dict[str, TrustedFolder] = Field(default_factory=dict)


def trust_file() -> Path:
    explicit = os.environ.get(TRUST_FILE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("CAW_HOME", "").strip()
    if home:
        return Path(home).expanduser() / "trust.json"
    import platformdirs

    return platformdirs.user_state_path("caw") / "trust.json"


def folder_key(cwd: str | os.PathLike[str]) -> str:
    return os.path.realpath(cwd)


def _hash_tree(h: hashlib._Hash, root: str, rel: str) -> None:
    path = os.path.join(root, rel)
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode):
        h.update(b"L" + rel.encode() + b"\0" + os.readlink(path).encode() + b"\0")
    elif stat.S_ISDIR(st.st_mode):
        h.update(b"D" + rel.encode() + b"\0")
        with contextlib.suppress(OSError):
            for name in sorted(os.listdir(path)):
                if name not in SKIPPED_NAMES:
                    _hash_tree(h, root, os.path.join(rel, name))
    elif stat.S_ISREG(st.st_mode):
        h.update(b"F" + rel.encode() + b"\0")
        try:
            with open(path, "rb") as f:
                content = f.read()
        except OSError as exc:  # unreadable: its name and the error still count
            content = f"unreadable {exc.errno}".encode()
        h.update(_canonical(rel, content) + b"\0")


def _canonical(rel: str, content: bytes) -> bytes:
    """A JSON file's meaning rather than its bytes, without a top-level ``$schema``: opencode
    adds ``"$schema"`` to a project's ``opencode.json`` when it loads it, which must not make a
    trusted folder untrusted. Anything else (or JSON that does not parse) as it is."""
    if not rel.endswith(".json"):
        return content
    try:
        data = json.loads(content)
    except ValueError:
        return content
    if isinstance(data, dict):
        data.pop("$schema", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def config_digest(cwd: str | os.PathLike[str], files: list[str]) -> str:
    """A digest of ``files`` (the agent configuration in ``cwd``), following no links."""
    h = hashlib.sha256()
    for rel in files:
        _hash_tree(h, os.fspath(cwd), rel)
    return "sha256:" + h.hexdigest()


def _safe(path: Path) -> bool:
    """Whether the store at ``path`` may be believed (absent counts as safe: it is empty)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError as exc:
        log.warning("ignoring the trust store %s: %s", path, exc)
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        log.warning("ignoring the trust store %s: not a file of your own", path)
        return False
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning("ignoring the trust store %s: group or others may write it", path)
        return False
    return True


def load(path: Path | None = None) -> TrustFile:
    path = path or trust_file()
    if not _safe(path):
        return TrustFile()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return TrustFile()
    except OSError as exc:
        log.warning("cannot read the trust store %s: %s", path, exc)
        return TrustFile()
    with os.fdopen(fd, "rb") as f:
        raw = f.read()
    try:
        return TrustFile.model_validate_json(raw)
    except ValidationError:
        log.warning("the trust store %s is not valid; no folder is trusted from it", path)
        return TrustFile()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the store between processes."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(
        path.with_name(path.name + ".lock"),
        os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _update(change: dict[str, TrustedFolder | None], path: Path | None = None) -> bool:
    """Apply ``change`` (None removes); whether anything was there to remove or was added."""
    path = path or trust_file()
    with _locked(path):
        if not _safe(path):
            raise PermissionError(f"the trust store {path} is not a private file of your own")
        data = load(path)
        changed = False
        for key, entry in change.items():
            if entry is None:
                changed |= data.folders.pop(key, None) is not None
            else:
                data.folders[key] = entry
                changed = True
        atomic_write_text(path, data.model_dump_json(indent=2) + "\n")
    return changed


def trust(cwd: str | os.PathLike[str], files: list[str], path: Path | None = None) -> None:
    """Record ``cwd`` as trusted with its current agent configuration ``files``."""
    entry = TrustedFolder(
        digest=config_digest(cwd, files),
        files=files,
        trusted_at=datetime.datetime.now(datetime.timezone.utc),
    )
    _update({folder_key(cwd): entry}, path)


def revoke(cwd: str | os.PathLike[str], path: Path | None = None) -> bool:
    """Forget ``cwd``; whether it was trusted."""
    return _update({folder_key(cwd): None}, path)


def is_trusted(cwd: str | os.PathLike[str], files: list[str], path: Path | None = None) -> bool:
    """Whether ``cwd`` was trusted with exactly this agent configuration."""
    entry = load(path).folders.get(folder_key(cwd))
    return entry is not None and entry.digest == config_digest(cwd, files)
