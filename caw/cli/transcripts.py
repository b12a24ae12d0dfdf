"""Where each backend CLI keeps its own transcript of a conversation, and how to move it.

Checked against claude 2.1.332, codex-cli 0.169.0 and opencode 1.18.33 (tests/cli):

* claude: ``$CLAUDE_CONFIG_DIR`` (else ``~/.claude``) ``/projects/<slug>/<session id>.jsonl``,
  where ``<slug>`` is the working directory with every character but letters and digits
  turned into ``-``; claude finds a conversation to resume by the directory it runs in.
* codex: ``$CODEX_HOME`` (else ``~/.codex``) ``/sessions/YYYY/MM/DD/rollout-<ts>-<thread id>.jsonl``;
  a fresh CODEX_HOME resumes from the file alone, from any directory.
* opencode: keeps sessions in SQLite; ``opencode export <id>`` prints one JSON document and
  ``opencode import <file>`` takes it back, keeping the session id.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..errors import BackendFailed
from ..providers import provider_class

TIMEOUT = 120.0


class TranscriptFile:
    """One file of a transcript: its path relative to the backend's root, and its bytes."""

    def __init__(self, relpath: str, data: bytes):
        self.relpath, self.data = relpath, data


def claude_root(env: Mapping[str, str]) -> Path:
    configured = env.get("CLAUDE_CONFIG_DIR")
    return Path(configured) if configured else Path(env.get("HOME", "~")).expanduser() / ".claude"


def codex_root(env: Mapping[str, str]) -> Path:
    configured = env.get("CODEX_HOME")
    return Path(configured) if configured else Path(env.get("HOME", "~")).expanduser() / ".codex"


def claude_slug(cwd: str | os.PathLike[str]) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", os.fspath(cwd))


def _safe_relpath(relpath: str) -> Path:
    """A bundle's relative path, refused if it could leave the backend's folder."""
    path = Path(relpath)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"the bundle names an unsafe path {relpath!r}")
    return path


def read_transcript(
    provider: str, key: str, env: Mapping[str, str], cwd: str | None
) -> list[TranscriptFile]:
    """The backend's own record of conversation ``key`` on this machine."""
    if provider == "claude_code":
        projects = claude_root(env) / "projects"
        found = sorted(projects.glob(f"*/{key}.jsonl"))
        if cwd:
            preferred = projects / claude_slug(cwd) / f"{key}.jsonl"
            found = [preferred] if preferred.is_file() else found
        if not found:
            raise FileNotFoundError(f"claude's transcript {key}.jsonl is not under {projects}")
        main = found[0]
        files = [TranscriptFile(f"{key}.jsonl", main.read_bytes())]
        side = main.parent / key  # subagent transcripts, when there are any
        if side.is_dir():
            for path in sorted(p for p in side.rglob("*") if p.is_file()):
                files.append(
                    TranscriptFile(f"{key}/{path.relative_to(side).as_posix()}", path.read_bytes())
                )
        return files
    if provider == "codex":
        sessions = codex_root(env) / "sessions"
        found = sorted(sessions.glob(f"*/*/*/rollout-*-{key}.jsonl"))
        if not found:
            raise FileNotFoundError(
                f"codex's rollout file for thread {key} is not under {sessions}"
            )
        return [TranscriptFile(found[-1].relative_to(sessions).as_posix(), found[-1].read_bytes())]
    if provider == "opencode":
        out = _run_cli(provider, ["export", key], env, cwd)
        return [TranscriptFile("export.json", out)]
    raise ValueError(f"no transcript support for provider {provider!r}")


def write_transcript(
    provider: str, key: str, files: list[TranscriptFile], env: Mapping[str, str], cwd: str
) -> None:
    """Put a transcript where this machine's CLI looks for conversation ``key``."""
    if provider == "claude_code":
        target = claude_root(env) / "projects" / claude_slug(cwd)
        _install(target, files)
    elif provider == "codex":
        _install(codex_root(env) / "sessions", files)
    elif provider == "opencode":
        (export,) = [f for f in files if f.relpath == "export.json"]
        with tempfile.TemporaryDirectory(prefix="caw-import-") as tmp:
            path = Path(tmp) / "export.json"
            path.write_bytes(export.data)
            _run_cli(provider, ["import", str(path)], env, cwd)
    else:
        raise ValueError(f"no transcript support for provider {provider!r}")


def _install(root: Path, files: list[TranscriptFile]) -> None:
    for item in files:
        path = root / _safe_relpath(item.relpath)
        if path.exists() and path.read_bytes() != item.data:
            raise FileExistsError(f"{path} exists with other content; not overwriting it")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(item.data)


def _run_cli(provider: str, args: list[str], env: Mapping[str, str], cwd: str | None) -> bytes:
    cls = provider_class(provider)
    cli = cls.find_cli(dict(env))
    if cli is None:
        raise FileNotFoundError(f"the `{cls.cli}` CLI was not found. {cls.install_hint()}")
    try:
        out = subprocess.run(
            [cli, *args], env=dict(env), cwd=cwd if cwd and os.path.isdir(cwd) else None,
            stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise BackendFailed(f"`{cls.cli} {args[0]}` did not finish in {TIMEOUT:g} s") from None
    if out.returncode != 0:
        tail = out.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise BackendFailed(
            f"`{cls.cli} {args[0]}` failed (exit {out.returncode}): {' / '.join(tail)}",
            exit_code=out.returncode,
        )
    return out.stdout
