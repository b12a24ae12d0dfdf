"""Tampered handles and ids are rejected with the invalid-handle error before any file or process is touched.

Each case runs against the library (``AsyncAgent.resume_session`` with a data dir) and
against caw-server (``session/resume``). Afterwards: no new child process, the data dir
and the CLI's home unchanged (every path, size and mtime), no request reached the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import caw
from caw import AsyncAgent
from tests.support.procs import descendants, wait_until

from .conftest import PROVIDERS, all_providers_env
from .stdio import RpcFailure, StdioDaemon

pytestmark = pytest.mark.reliability("handles")

BASE = {
    "claude_code": {"version": 1, "provider": "claude_code", "session_id": "2f1c3b8e-5d4a-4c6b-9e7f-0a1b2c3d4e5f", "resume_key": "2f1c3b8e-5d4a-4c6b-9e7f-0a1b2c3d4e5f"},
    "codex": {"version": 1, "provider": "codex", "session_id": "2f1c3b8e-5d4a-4c6b-9e7f-0a1b2c3d4e5f", "resume_key": "019aa1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
    "opencode": {"version": 1, "provider": "opencode", "session_id": "2f1c3b8e-5d4a-4c6b-9e7f-0a1b2c3d4e5f", "resume_key": "ses_0123456789abcdefABCDEFghij"},
}  # fmt: skip
# A provider whose resume keys have another shape than each provider's.
OTHER_SHAPE = {"claude_code": "opencode", "codex": "opencode", "opencode": "codex"}

BAD_IDS = {
    "parent-dir": "../x", "parent-only": "..", "dot": ".", "slash": "a/b", "backslash": "a\\b", "absolute": "/etc/passwd",
    "deep-parent": "../../../../tmp/evil", "encoded-parent": "%2e%2e%2fx", "flag": "-rf", "long-flag": "--resume",
    "empty": "", "space": " ", "nul": "a\x00b", "newline": "a\nb", "too-long": "a" * 129, "unicode-slash": "a\u2215b",
    "non-ascii": "s\u00e9ance", "number": 123, "null": None, "list": ["x"],
}  # fmt: skip
BAD_KEYS = {
    "claude_code": {"not-a-uuid": "thread-name", "uuid-without-dashes": "2f1c3b8e5d4a4c6b9e7f0a1b2c3d4e5f"},
    "codex": {"not-a-uuid": "my-thread", "uuid-without-dashes": "019aa1b2c3d47e5f8a9b0c1d2e3f4a5b", "uuid-with-suffix": "019aa1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-x"},
    "opencode": {"no-prefix": "0123456789abcdef", "prefix-only": "ses_", "prefix-parent": "ses_../x", "a-uuid": "2f1c3b8e-5d4a-4c6b-9e7f-0a1b2c3d4e5f"},
}  # fmt: skip


def tamper(**changes: Any) -> Callable[[dict], str]:
    def make(base: dict) -> str:
        data = dict(base)
        for key, value in changes.items():
            if value is _DROP:
                data.pop(key, None)
            else:
                data[key] = value
        return json.dumps(data)

    return make


_DROP = object()


def _always(made: Callable[[dict], str]) -> Callable[[str], Callable[[dict], str]]:
    return lambda provider: made


CASES: dict[str, Callable[[str], Callable[[dict], str] | str]] = {
    "version-0": lambda p: tamper(version=0),
    "version-2": lambda p: tamper(version=2),
    "version-string": lambda p: tamper(version="1"),
    "version-true": lambda p: tamper(version=True),
    "version-float": lambda p: tamper(version=1.5),
    "version-null": lambda p: tamper(version=None),
    "version-missing": lambda p: tamper(version=_DROP),
    "provider-unknown": lambda p: tamper(provider="gpt-cli"),
    "provider-missing": lambda p: tamper(provider=_DROP),
    "provider-number": lambda p: tamper(provider=7),
    "provider-path": lambda p: tamper(provider="../claude_code"),
    "provider-other-key-shape": lambda p: tamper(provider=OTHER_SHAPE[p]),
    "key-missing": lambda p: tamper(resume_key=_DROP),
    "session-missing": lambda p: tamper(session_id=_DROP),
    "not-json": lambda p: "{not json",
    "json-array": lambda p: "[]",
    "json-string": lambda p: '"handle"',
    "empty-object": lambda p: "{}",
    "truncated": lambda p: json.dumps(BASE[p])[:-5],
    **{f"key-{name}": _always(tamper(resume_key=value)) for name, value in BAD_IDS.items()},
    **{f"session-{name}": _always(tamper(session_id=value)) for name, value in BAD_IDS.items()},
}


def cases_for(provider: str) -> list[str]:
    return [*CASES, *(f"shape-{name}" for name in BAD_KEYS[provider])]


def handle_for(provider: str, case: str) -> str:
    if case.startswith("shape-"):
        return tamper(resume_key=BAD_KEYS[provider][case.removeprefix("shape-")])(BASE[provider])
    made = CASES[case](provider)
    return made(BASE[provider]) if callable(made) else made


PARAMS = [(p, c) for p in PROVIDERS for c in cases_for(p)]


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``roots`` with its size and mtime."""
    found = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                st = path.lstat()
                found[str(path)] = (st.st_size, st.st_mtime_ns)
        found[str(root)] = (0, root.stat().st_mtime_ns) if root.exists() else (0, 0)
    return found


class Untouched:
    """Asserts that nothing changed between ``__init__`` and ``check()``."""

    def __init__(self, roots: list[Path], pid: int, scripted):
        self.roots, self.pid, self.scripted = roots, pid, scripted
        self.files, self.children, self.requests = (
            snapshot(*roots),
            set(descendants(pid)),
            len(scripted.requests),
        )

    def check(self) -> None:
        assert snapshot(*self.roots) == self.files, "a file or folder was created or changed"
        assert set(descendants(self.pid)) <= self.children, (
            f"a process was started: {descendants(self.pid)}"
        )
        assert len(self.scripted.requests) == self.requests, "a request reached the model"


@pytest.mark.parametrize(("provider", "case"), PARAMS, ids=[f"{p}-{c}" for p, c in PARAMS])
async def test_library_rejects_a_tampered_handle(
    provider, case, cli_env, scripted, leaks, tmp_path
):
    env = cli_env(provider)
    data = tmp_path / "data"
    (data / "sessions" / "existing").mkdir(parents=True)
    home = Path(env["HOME"])
    agent = AsyncAgent(provider=provider, env=env, data_dir=data)
    handle = handle_for(provider, case)
    untouched = Untouched([data, home], os.getpid(), scripted)
    with pytest.raises(caw.InvalidHandle) as caught:
        await agent.resume_session(handle)
    leaks.error(caught.value)
    assert caught.value.kind == "invalidHandle"
    untouched.check()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_library_pinned_to_another_provider_rejects_the_handle(
    provider, cli_env, scripted, tmp_path
):
    """A handle of another provider (even one with the same key shape) and a pinned Agent."""
    data = tmp_path / "data"
    data.mkdir()
    for other in PROVIDERS:
        if other == provider:
            continue
        agent = AsyncAgent(provider=other, env=cli_env(other), data_dir=data)
        untouched = Untouched([data], os.getpid(), scripted)
        with pytest.raises(caw.InvalidHandle, match=rf"{provider}.*{other}"):
            await agent.resume_session(json.dumps(BASE[provider]))
        untouched.check()


# --- the daemon -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(model_server, tmp_path_factory) -> Iterator[tuple[StdioDaemon, Path, Path]]:
    root = tmp_path_factory.mktemp("handles")
    env = all_providers_env(model_server.base_url, root / "homes")
    data = root / "data"
    (data / "sessions" / "existing").mkdir(parents=True)
    d = StdioDaemon("--data-dir", str(data), "--log-level", "debug", env=env, cwd=str(root))
    try:
        d.initialize()
        # The daemon caches the CLIs' versions in the background once; let that settle first.
        wait_until(
            lambda: (Path(env["XDG_CACHE_HOME"]) / "caw" / "cli-versions.json").exists(),
            timeout=60,
            what="the version cache",
        )
        yield d, data, root / "homes"
    finally:
        assert d.close() == 0


@pytest.mark.parametrize(("provider", "case"), PARAMS, ids=[f"{p}-{c}" for p, c in PARAMS])
def test_daemon_rejects_a_tampered_handle(daemon, provider, case, scripted, leaks):
    d, data, homes = daemon
    leaks.client(d)
    handle = handle_for(provider, case)
    untouched = Untouched([data, homes], d.pid, scripted)
    with pytest.raises(RpcFailure) as caught:
        d.request("session/resume", {"handle": handle})
    assert caught.value.kind == "invalidHandle" and caught.value.code == 1007, caught.value.error
    untouched.check()
    assert d.alive()


@pytest.mark.parametrize("name", list(BAD_IDS))
def test_daemon_rejects_a_bare_session_id_of_the_wrong_shape(daemon, name, scripted, leaks):
    d, data, homes = daemon
    leaks.client(d)
    value = BAD_IDS[name]
    untouched = Untouched([data, homes], d.pid, scripted)
    with pytest.raises(RpcFailure) as caught:
        d.request("session/resume", {"sessionId": value})
    if isinstance(value, str) and value:
        assert caught.value.kind == "invalidHandle", caught.value.error
    else:  # not a string at all: the params are invalid before anything reads them
        assert caught.value.kind in ("invalidParams", "invalidHandle"), caught.value.error
    untouched.check()


# A key of the right shape that the backend never issued.
UNKNOWN_KEY = {
    "claude_code": "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a",
    "codex": "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a",
    "opencode": "ses_0123456789abcdefABCDEFghij",
}


@pytest.mark.e2e
async def test_a_wrong_key_for_a_stored_session_leaves_its_handle_alone(
    provider, cli_env, scripted, leaks, tmp_path
):
    """A handle naming a stored session but carrying a key the backend does not know (stale, mistyped,
    forged) fails, and the session's stored handle survives: the bare session id still resumes it."""
    data = tmp_path / "data"
    leaks.data_dir(data)
    agent = AsyncAgent(provider=provider, env=cli_env(provider), data_dir=data)
    session = await agent.start_session()
    await session.send("My deploy target is staging-eu. Remember that.")
    handle = session.resume_handle
    await session.end()
    wrong = json.loads(handle)
    wrong["resume_key"] = UNKNOWN_KEY[provider]
    leaks.handle(json.dumps(wrong))

    async def resume_and_ask(handle: str) -> None:
        resumed = await agent.resume_session(handle)
        try:
            await resumed.send("Where am I deploying?")
        finally:
            await resumed.end()

    # claude fails at the first send, the others at once
    with pytest.raises(caw.BackendFailed) as caught:
        await resume_and_ask(json.dumps(wrong))
    leaks.error(caught.value)
    assert (data / "sessions" / session.session_id / "handle.json").read_text() == handle
    again = await agent.resume_session(session.session_id)
    try:
        assert (await again.send("Where am I deploying?")).result == "staging-eu"
    finally:
        await again.end()
