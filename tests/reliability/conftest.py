"""The reliability and security suite: shared fixtures, the leak scan, and the figures it reports.

Every test here belongs to a category (``pytestmark = pytest.mark.reliability("...")``).
At the end of a run the counts per category go to ``test-output/reliability.json``
(tests/reliability/report_hooks.py);
``python -m tests.reliability.report`` turns them into the tables of docs/reliability.md.

Every test also runs under :class:`LeakScan` (autouse): caw's loggers at debug level,
and at teardown every resume handle the test created (or met in a data dir or a
daemon's answers) is searched for in all captured logs, error messages, daemon
stderr and window/logMessage/$/logTrace notifications, and the data dir's
``traj.jsonl`` and ``trajectory.json``.

Sizes: ``CAW_RELIABILITY=full`` runs the documented full sizes (the load test's 50
sessions, opencode's one-minute retry back-off on a cut stream); the default is
the bounded CI size. The fuzzer's size is the hypothesis profile (tests/conftest.py:
``ci`` by default, ``--hypothesis-profile=long`` or ``CAW_FUZZ=long`` for the random search).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caw.client import CawClient
from caw.testing import cli_environment

REPO = Path(__file__).resolve().parents[2]
FULL = os.environ.get("CAW_RELIABILITY", "").strip().lower() == "full"
PROVIDERS = ["claude_code", "codex", "opencode"]
TURN = 120.0  # seconds: a generous bound for one turn on a busy 2-core machine

CATEGORIES = {
    "model-faults": "Model server faults",
    "backend-killed": "Backend killed mid-turn",
    "daemon-killed": "Daemon killed mid-turn",
    "disk": "Disk full / not writable",
    "load": "Load",
    "protocol": "Protocol (fuzz and JSON-RPC examples)",
    "handles": "Tampered handles and ids",
    "secrets": "Secrets",
    "odd-output": "Odd CLI output",
    "argv": "Options and secrets on argv",
    "processes": "Processes and limits",
    "trust": "Workspace trust",
}


# --- environments -------------------------------------------------------------------------


def all_providers_env(base_url: str, root: Path, **kwargs: Any) -> dict[str, str]:
    """One environment in which claude, codex and opencode all talk to ``base_url`` (for one daemon)."""
    env = cli_environment("opencode", base_url, root, **kwargs)  # HOME and XDG dirs: opencode's
    for provider in ("claude_code", "codex"):
        other = cli_environment(provider, base_url, root, **kwargs)
        for key, value in other.items():
            if key not in env or key.startswith(("ANTHROPIC_", "CLAUDE_", "CODEX_")):
                env[key] = value
    return env


@pytest.fixture
def all_env(model_server, tmp_path) -> dict[str, str]:
    return all_providers_env(model_server.base_url, tmp_path / "homes")


# --- the leak scan ------------------------------------------------------------------------


class LeakScan:
    """Collects the secrets a test created and every text they must not appear in."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}  # secret -> what it is
        self.texts: list[tuple[str, str]] = []  # (where, text)
        self.clients: list[Any] = []
        self.data_dirs: list[Path] = []
        self.handles_seen = 0

    def handle(self, handle: str | None) -> None:
        """A resume handle the test was given: the handle and (if it differs from the session id) its key."""
        if not handle:
            return
        self.handles_seen += 1
        self.secrets[handle] = "a resume handle"
        try:
            data = json.loads(handle)
        except ValueError:
            return
        key = data.get("resume_key") if isinstance(data, dict) else None
        if isinstance(key, str) and key != data.get("session_id") and len(key) >= 8:
            self.secrets[key] = "a resume key"

    def secret(self, value: str, what: str) -> None:
        self.secrets[value] = what

    def text(self, where: str, text: Any) -> None:
        self.texts.append((where, text if isinstance(text, str) else json.dumps(text, default=str)))

    def error(self, exc: BaseException) -> None:
        """An exception the test caught: its message, and for caw errors the stderr tail / rpc data."""
        self.text(f"error {type(exc).__name__}", str(exc))
        for attr in ("stderr_tail", "data", "turn"):
            value = getattr(exc, attr, None)
            if value is not None:
                self.text(
                    f"error {type(exc).__name__}.{attr}",
                    value if isinstance(value, str) else repr(value),
                )

    def client(self, client: Any) -> None:
        """A CawClient (async) or StdioDaemon (sync): its answers give handles, its output is searched."""
        self.clients.append(client)

    def data_dir(self, path: Path | str) -> None:
        self.data_dirs.append(Path(path))

    async def daemon(self, data: Path, env: dict[str, str], cwd: Path, *flags: str) -> CawClient:
        """A caw-server logging at debug level to ``data``; its answers, output and data dir are scanned."""
        client = await CawClient.spawn(
            "--data-dir", str(data), "--log-level", "debug", *flags, env=env, cwd=str(cwd)
        )
        client.answers = []
        self.client(client)
        if Path(data) not in self.data_dirs:
            self.data_dir(data)
        return client

    def _collect(self) -> None:
        for client in self.clients:
            for answer in list(getattr(client, "answers", None) or []):
                for item in answer if isinstance(answer, list) else [answer]:
                    result = item.get("result") if isinstance(item, dict) else None
                    if isinstance(result, dict):
                        self.handle(result.get("resumeHandle"))
                    if isinstance(item, dict) and "error" in item:
                        self.text("daemon error answer", item["error"])
            for line in list(getattr(client, "stderr_lines", None) or []):
                self.text("daemon stderr", line)
            for method, params in list(getattr(client, "notifications", None) or []):
                if method in ("window/logMessage", "$/logTrace", "window/showMessage"):
                    self.text(f"daemon {method}", params)
        for root in self.data_dirs:
            if not root.is_dir():
                continue
            for handle_file in root.glob("sessions/*/handle.json"):
                with contextlib.suppress(OSError):
                    self.handle(handle_file.read_text())
            for name in ("traj.jsonl", "trajectory.json"):
                for path in root.glob(f"sessions/*/{name}"):
                    with contextlib.suppress(OSError):
                        self.text(str(path.relative_to(root)), path.read_text(errors="replace"))

    def check(self, log_text: str) -> None:
        self._collect()
        self.text("caw's log records (debug)", log_text)
        leaks = [
            f"{what} found in {where}: ...{text[max(0, text.find(secret) - 80) : text.find(secret) + len(secret) + 20]!r}..."
            for secret, what in self.secrets.items()
            for where, text in self.texts
            if secret in text
        ]
        assert not leaks, "secrets leaked:\n" + "\n".join(leaks[:5])


@pytest.fixture(autouse=True)
def leaks(caplog, monkeypatch, record_property) -> Iterator[LeakScan]:
    monkeypatch.setenv("CAW_LOG", "debug")  # for any library process a test starts
    caplog.set_level(logging.DEBUG, logger="caw")
    caplog.set_level(logging.DEBUG, logger="caw_server")
    scan = LeakScan()
    yield scan
    scan.check(caplog.text)
    record_property("secrets_checked", len(scan.secrets))


# --- the figures --------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability(category): a case of the reliability report (docs/reliability.md)"
    )
