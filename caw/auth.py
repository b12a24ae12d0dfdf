"""``caw auth``: the host's agent logins inside Docker containers, as caw 0.1.9 documents it
(docker-credentials.md).

:func:`setup` writes an auth dir (default ``~/.caw/auth``, or ``$CAW_HOME/auth``): a
``manifest.json``, the container's ``setup-container.sh`` and the agents' configs cleaned for
a container. Credential files are never copied there: they stay at their host paths and are
bind-mounted (:func:`get_docker_flags`); inside the container the setup script copies them to
the user's home and keeps both in sync, so a token refreshed on either side reaches the other.
Host files are only read. Everything caw writes is owner-only (dirs 0700, files 0600); no
function here logs or returns a credential's contents.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from .health import _expiry, _jwt_expiry
from .store import atomic_write_text

log = logging.getLogger("caw.auth")

#: Where the auth dir is mounted in the container.
CONTAINER_DIR = "/tmp/caw_auth"
MANIFEST = "manifest.json"
SETUP_SCRIPT = "setup-container.sh"

# claude's .claude.json holds per-project history and caches; a container needs only these.
_CLAUDE_KEEP = (
    "hasCompletedOnboarding", "lastOnboardingVersion", "oauthAccount", "userID",
    "installMethod", "autoUpdates", "bypassPermissionsModeAccepted", "customApiKeyResponses",
)  # fmt: skip


class AuthError(ValueError):
    """caw auth cannot do what was asked; the message says why (never a secret)."""


@dataclass(frozen=True)
class _File:
    agent: str
    file: str  # as the user knows it (home-relative)
    type: Literal["credential", "config"]
    staged: str  # relative to the auth dir (the mount target of a credential)


_AGENTS: dict[str, list[_File]] = {
    "claude": [
        _File("claude", ".claude/.credentials.json", "credential", "claude/credentials.json"),
        _File("claude", ".claude.json", "config", "claude/claude.json"),
    ],
    "codex": [
        _File("codex", ".codex/auth.json", "credential", "codex/auth.json"),
        _File("codex", ".codex/config.toml", "config", "codex/config.toml"),
    ],
}
_ALIASES = {"claude_code": "claude", "cc": "claude"}


class ManifestEntry(BaseModel):
    agent: str
    file: str
    type: Literal["credential", "config"]
    strategy: Literal["bind", "copy"]
    staged: str
    home_path: str
    host_path: str | None = None  # a credential's file on the host (bound, never copied)


class Manifest(BaseModel):
    version: int = 1
    created_at: datetime
    container_dir: str = CONTAINER_DIR
    files: list[ManifestEntry]


@dataclass
class AuthFileStatus:
    """One managed file (caw 0.1.9's fields, then caw's ``path`` and ``modified``)."""

    agent: str
    file: str
    type: str
    strategy: str
    exists: bool
    token_expiry: str | None = None
    path: str = ""  # where its truth lives: the host file (bind) or the staged copy
    modified: datetime | None = None


def default_auth_dir() -> Path:
    home = os.environ.get("CAW_HOME", "").strip()
    return Path(home).expanduser() / "auth" if home else Path.home() / ".caw" / "auth"


def _auth_dir(auth_dir: str | Path | None) -> Path:
    return Path(auth_dir).expanduser().absolute() if auth_dir else default_auth_dir()


def _agent_names(agents: list[str] | None, home: Path) -> list[str]:
    """The agents to set up: those named, else ("all" or nothing) every one logged in here."""
    logged_in = [name for name, files in _AGENTS.items() if (home / files[0].file).is_file()]
    if agents is None or "all" in agents:
        return logged_in
    names: list[str] = []
    for given in agents:
        name = _ALIASES.get(given, given)
        if name not in _AGENTS:
            raise AuthError(f"unknown agent {given!r}; choose from {', '.join(_AGENTS)}, all")
        if name not in names:
            names.append(name)
    return names


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_text(path, text)
    path.chmod(0o600)


def _clean_claude_config(text: str) -> str:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return json.dumps({k: data[k] for k in _CLAUDE_KEEP if k in data}, indent=2) + "\n"


_TOML_TABLE = re.compile(r"^\s*\[")
_TRUST_TABLE = re.compile(r"^\s*\[\s*projects\b")


def _clean_codex_config(text: str) -> str:
    """config.toml without its ``[projects."<host path>"]`` trust tables (host paths)."""
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if _TOML_TABLE.match(line):
            skipping = bool(_TRUST_TABLE.match(line))
        if not skipping:
            kept.append(line)
    return "".join(kept)


def _check_credential(path: Path) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        # json's messages name a position, never the text; keep it that way
        raise AuthError(f"cannot read the credential file {path}: {type(exc).__name__}") from None
    if not isinstance(data, dict) or not data:
        raise AuthError(f"the credential file {path} holds no login")


def setup(
    agents: list[str] | None = None,
    source_home: str | None = None,
    dest_dir: str | Path | None = None,
) -> Path:
    """Write the auth dir for ``agents`` (default or "all": every agent logged in on this
    host; a named agent that is not logged in is an error) from the logins under
    ``source_home`` (default: ``$HOME``).
    Returns the auth dir. Host files are read, never changed."""
    home = Path(source_home).expanduser() if source_home else Path.home()
    dest = _auth_dir(dest_dir)
    names = _agent_names(agents, home)
    entries: list[ManifestEntry] = []
    staged_configs: list[tuple[Path, str]] = []
    for name in names:
        for spec in _AGENTS[name]:
            source = home / spec.file
            if not source.is_file():
                if spec.type == "credential":
                    raise AuthError(f"{name} is not logged in on this host: no {source}")
                continue
            entry = ManifestEntry(
                agent=name, file=spec.file, type=spec.type, staged=spec.staged,
                home_path=spec.file, strategy="bind" if spec.type == "credential" else "copy",
            )  # fmt: skip
            if spec.type == "credential":
                _check_credential(source)
                entry.host_path = str(source.resolve())
            else:
                clean = _clean_claude_config if name == "claude" else _clean_codex_config
                try:
                    staged_configs.append((dest / spec.staged, clean(source.read_text("utf-8"))))
                except (OSError, ValueError) as exc:
                    raise AuthError(f"cannot read {source}: {type(exc).__name__}") from None
            entries.append(entry)
    if not entries:
        raise AuthError(f"no agent is logged in under {home} (looked for claude and codex)")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest.chmod(0o700)
    for path, text in staged_configs:
        _write_private(path, text)
    for entry in entries:  # the mount points of the credentials (docker needs them to exist)
        if entry.strategy == "bind":
            (dest / entry.staged).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    script = resources.files("caw").joinpath(f"data/{SETUP_SCRIPT}").read_text(encoding="utf-8")
    _write_private(dest / SETUP_SCRIPT, script)
    (dest / SETUP_SCRIPT).chmod(0o700)
    manifest = Manifest(created_at=datetime.now(timezone.utc), files=entries)
    _write_private(dest / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
    log.info("caw auth: wrote %s for %s", dest, ", ".join(names))
    return dest


def _manifest(auth_dir: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((auth_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuthError(f"no {MANIFEST} in {auth_dir}: run `caw auth setup` first") from None
    except (OSError, ValueError) as exc:
        raise AuthError(f"cannot read {auth_dir / MANIFEST}: {type(exc).__name__}") from None


def _token_expiry(path: Path) -> str | None:
    """When the login in a credential file expires (ISO 8601), if the file says."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    oauth = data.get("claudeAiOauth")
    tokens = data.get("tokens")
    expires = (
        _expiry(oauth.get("expiresAt"))
        if isinstance(oauth, dict)
        else _jwt_expiry(tokens.get("access_token") or tokens.get("id_token"))
        if isinstance(tokens, dict)
        else None
    )
    return expires.isoformat() if expires else None


def get_status(
    agents: list[str] | None = None, auth_dir: str | Path | None = None
) -> list[AuthFileStatus]:
    """Each managed file: where its truth lives, whether it exists, when it changed, and a
    credential's token expiry (read from the host file)."""
    directory = _auth_dir(auth_dir)
    manifest = _manifest(directory)
    wanted = None if agents is None else {_ALIASES.get(a, a) for a in agents}
    statuses = []
    for entry in manifest.files:
        if wanted is not None and "all" not in wanted and entry.agent not in wanted:
            continue
        path = Path(entry.host_path) if entry.host_path else directory / entry.staged
        try:
            modified: datetime | None = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except OSError:
            modified = None
        status = AuthFileStatus(
            agent=entry.agent, file=entry.file, type=entry.type, strategy=entry.strategy,
            exists=path.is_file(), path=str(path), modified=modified,
            token_expiry=_token_expiry(path) if entry.type == "credential" else None,
        )  # fmt: skip
        statuses.append(status)
    return statuses


def _mount(source: str, target: str) -> str:
    # $(caw auth docker-flags) splits on whitespace without removing quotes; ':' splits -v
    if re.search(r"[\s:]", source):
        raise AuthError(f"docker -v cannot mount {source!r} (whitespace or ':' in the path)")
    return f"-v {source}:{target}:rw"


def get_docker_flags(auth_dir: str | Path | None = None) -> str:
    """The ``docker run`` flags: the auth dir at /tmp/caw_auth, and each credential file over
    its place in it, space-separated for ``$(caw auth docker-flags)``."""
    directory = _auth_dir(auth_dir)
    manifest = _manifest(directory)
    flags = [_mount(str(directory), manifest.container_dir)]
    for entry in manifest.files:
        if entry.strategy == "bind" and entry.host_path:
            flags.append(_mount(entry.host_path, f"{manifest.container_dir}/{entry.staged}"))
    return " ".join(flags)


def teardown(auth_dir: str | Path | None = None, force: bool = False) -> None:
    """Remove the auth dir. Host credential files are never touched. Refuses when a host
    credential is a symlink into the auth dir (caw's old design: removing it would log the
    agent out), or when the folder is not an auth dir caw wrote; ``force`` overrides both."""
    directory = _auth_dir(auth_dir)
    if not directory.exists():
        return
    if not force:
        if not (directory / MANIFEST).is_file():
            raise AuthError(
                f"{directory} has no {MANIFEST}: not removing a folder caw did not write"
            )
        home = Path.home()
        for files in _AGENTS.values():
            for spec in files:
                host = home / spec.file
                if host.is_symlink() and host.resolve().is_relative_to(directory.resolve()):
                    raise AuthError(
                        f"{host} is a link into {directory}; removing it would log you out "
                        "(--force removes it anyway; then log in again)"
                    )
    shutil.rmtree(directory)
    log.info("caw auth: removed %s", directory)
