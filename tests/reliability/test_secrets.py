"""Secrets: handle files are private and written atomically; opencode serve is loopback-only
behind a random password; no handle reaches any daemon output, trace or error.

(Every test of this suite also runs the leak scan of conftest.LeakScan at debug level.)
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from caw import AsyncAgent
from caw.client import RpcError
from caw.handle import decode_handle
from caw.store import Store
from tests.support.procs import descendants

from .conftest import PROVIDERS, TURN, LeakScan

pytestmark = pytest.mark.reliability("secrets")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.e2e
async def test_handle_files_are_private_and_written_atomically(
    provider, cli_env, scripted, leaks, tmp_path
):
    data = tmp_path / "data"
    leaks.data_dir(data)
    old_umask = os.umask(0)  # the modes must not depend on the user's umask
    try:
        session = await AsyncAgent(
            provider=provider, env=cli_env(provider), data_dir=data
        ).start_session()
        try:
            await session.send("My deploy target is staging-eu. Remember that.")
            handle = session.resume_handle
        finally:
            await session.end()
        folder = data / "sessions" / session.session_id
        handle_file = folder / "handle.json"
        assert handle_file.read_text() == handle
        for path in [data, data / "sessions", *data.rglob("*")]:
            assert mode(path) == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode(path))}"

        # Resuming with the stored handle leaves the file alone; rewriting it (a new key does)
        # replaces the file by rename: a reader of the old one (here a hard link to it) still
        # sees the whole old content, never a torn write.
        os.link(handle_file, tmp_path / "old-handle")
        before = handle_file.stat().st_ino
        resumed = await AsyncAgent(
            provider=provider, env=cli_env(provider), data_dir=data
        ).resume_session(handle)
        await resumed.end()
        assert handle_file.stat().st_ino == before, "an unchanged handle.json is not rewritten"
        Store(data).session(session.session_id).save_handle(decode_handle(handle))
        assert handle_file.stat().st_ino != before, "handle.json was rewritten in place"
        assert (tmp_path / "old-handle").read_text() == handle == handle_file.read_text()
        assert mode(handle_file) == 0o600
        assert not [p for p in folder.rglob("*") if p.name.startswith(".")], (
            "a temporary file was left behind"
        )
    finally:
        os.umask(old_umask)


def _argv_and_environ(pid: int) -> tuple[list[bytes], dict[bytes, bytes]]:
    """A process's command line and environment, as /proc shows them to its owner."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    environ = dict(
        item.split(b"=", 1)
        for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if b"=" in item
    )
    return argv, environ


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state that process ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                raw = bytes.fromhex(address)
                if width == 8:
                    host = ".".join(str(b) for b in raw[::-1])
                else:  # four little-endian 32-bit words
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    host = ":".join(words[i : i + 2].hex() for i in range(0, 16, 2))
                found.append((host, int(port, 16)))
    return found


@pytest.mark.e2e
async def test_opencode_serve_is_loopback_only_behind_a_random_password(
    cli_env, scripted, leaks, tmp_path
):
    env = cli_env("opencode")
    serves = []
    sessions = []
    try:
        for name in ("one", "two"):  # two working directories: two serve processes
            (tmp_path / name).mkdir()
            session = await AsyncAgent(
                provider="opencode", env=env, cwd=tmp_path / name
            ).start_session()
            sessions.append(session)
            await session.send("Repeat after me: ready")
            leaks.handle(session.resume_handle)
        serves = [
            pid
            for pid, cmd in descendants(os.getpid()).items()
            if " serve " in f" {cmd} " and "opencode" in cmd
        ]
        assert len(serves) == 2, descendants(os.getpid())
        passwords = []
        async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
            for pid in serves:
                argv, environ = _argv_and_environ(pid)
                password = environ[b"OPENCODE_SERVER_PASSWORD"].decode()
                passwords.append(password)
                leaks.secret(password, "the opencode serve password")
                assert len(password) >= 32
                assert not any(password.encode() in arg for arg in argv), (
                    "the password is in the command line (ps shows it)"
                )
                assert argv[argv.index(b"--hostname") + 1] == b"127.0.0.1"
                port = int(argv[argv.index(b"--port") + 1])
                listening = _listening(pid)
                assert ("127.0.0.1", port) in listening, listening
                assert all(
                    host in ("127.0.0.1", "0000:0000:0000:0000:0000:0000:0000:0001")
                    for host, _ in listening
                ), listening
                url = f"http://127.0.0.1:{port}/doc"
                assert (await http.get(url)).status_code == 401, "unauthenticated"
                assert (
                    await http.get(url, auth=("opencode", "not-the-password"))
                ).status_code == 401
                assert (await http.get(url, auth=("opencode", password))).status_code == 200
        assert passwords[0] != passwords[1], "each serve gets its own random password"
    finally:
        for session in sessions:
            await session.end()


@pytest.mark.e2e
async def test_no_handle_reaches_daemon_logs_traces_or_errors(
    all_env, scripted, leaks, tmp_path, record_property
):
    """Every provider through one daemon at debug level with LSP tracing on: handles are sent to it
    (session/resume) and come back from it (session/send), and some fail; the leak scan then
    searches its stderr, window/logMessage, $/logTrace, every error answer and the data dir."""
    scripted.retry_after = 0  # opencode's 5 retries of the failing turn below, without back-off
    data = tmp_path / "data"
    client = await leaks.daemon(data, all_env, tmp_path)
    try:
        await client.initialize({"logLevel": "debug"})
        client.notify("$/setTrace", {"value": "verbose"})

        async def one(provider: str) -> None:
            sid = (await client.start_session(provider=provider))["sessionId"]
            handle = (await client.send(sid, "My deploy target is staging-eu. Remember that."))[
                "resumeHandle"
            ]
            await client.end(sid)
            await client.resume(handle=handle)
            assert (await client.send(sid, "Where am I deploying?"))["turn"][
                "result"
            ] == "staging-eu"
            with pytest.raises(
                RpcError
            ):  # a failing turn: its error passes the backend's stderr through
                await client.send(sid, "[[fail:500]] Hello")
            await client.end(sid)
            # a handle of the right shape whose conversation the backend does not know
            forged = json.loads(handle)
            forged["resume_key"] = {"opencode": "ses_0123456789abcdefABCDEFghij"}.get(
                provider, "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a"
            )
            leaks.handle(json.dumps(forged))

            async def resume_and_ask(handle: str) -> None:
                await client.resume(handle=handle)
                await client.send(sid, "Where am I deploying?")

            # claude fails at the first send, the others at once
            with pytest.raises(RpcError) as unknown:
                await resume_and_ask(json.dumps(forged))
            assert unknown.value.kind == "backendFailed", unknown.value

        await asyncio.wait_for(asyncio.gather(*(one(p) for p in PROVIDERS)), 4 * TURN)
    finally:
        await client.aclose()
    assert any(m == "window/logMessage" for m, _ in client.notifications)
    record_property("cases", len(PROVIDERS))


def test_the_leak_scan_finds_a_planted_key():
    """The scan above is not vacuous: a key in any searched text fails it."""
    scan = LeakScan()
    scan.handle(
        json.dumps(
            {
                "version": 1,
                "provider": "codex",
                "session_id": "s-1",
                "resume_key": "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a",
            }
        )
    )
    scan.text("a log line", "resuming thread 0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a now")
    with pytest.raises(AssertionError, match="a resume key found in a log line"):
        scan.check("")


async def test_the_daemon_makes_its_data_dir_private(all_env, leaks, tmp_path):
    data = tmp_path / "fresh" / "data"
    old_umask = os.umask(0)
    try:
        client = await leaks.daemon(data, all_env, tmp_path)
    finally:
        os.umask(old_umask)
    try:
        await client.initialize()
        await client.list_sessions()
        for path in (data, data / "sessions"):
            assert mode(path) == 0o700, f"{path} is {oct(mode(path))}"
    finally:
        await client.aclose()
