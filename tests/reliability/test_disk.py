"""The data dir full or read-only at a turn, for real: a small tmpfs mounted for the test.

The turn's answer still arrives; Turn.warnings (and so the daemon's answer) says that
persistence failed; nothing written before is damaged (trajectory.json still valid with
the earlier turns, traj.jsonl still valid JSON lines); once the disk is writable again
the next turn's write brings the record up to date (the trajectory is rewritten whole).

Mounting needs root (CI runs as root) or passwordless sudo; elsewhere these tests skip.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import caw
from caw import AsyncAgent
from caw.client import RpcError
from caw_server import wire

from .conftest import TURN

pytestmark = [pytest.mark.e2e, pytest.mark.reliability("disk")]

FACT = "My deploy target is staging-eu. Remember that."
RECALL = "Where am I deploying?"
LONG_TEXT = " ".join(f"word{i}" for i in range(1200))


def _write_until_refused(fd: int, size: int) -> OSError | None:
    """Write ``size`` zero bytes at a time until the kernel refuses: its error (None: it wrote 0)."""
    try:
        while os.write(fd, b"\0" * size):
            pass
    except OSError as exc:
        return exc
    return None


class SmallDisk:
    """A tmpfs of a few MiB: ``fill()`` leaves no free block, ``readonly()`` remounts it read-only."""

    def __init__(self, path: Path, sudo: list[str]):
        self.path, self.sudo = path, sudo
        self.filler = path / "filler"

    def _mount(self, *args: str) -> None:
        subprocess.run([*self.sudo, "mount", *args], check=True, capture_output=True, timeout=30)

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (64 * 1024, 1):  # big chunks first, then bytes: the last partial page too
                refused = _write_until_refused(fd, size)
                assert refused is None or refused.errno == errno.ENOSPC, refused
        finally:
            os.close(fd)
        assert shutil.disk_usage(self.path).free == 0

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def readonly(self, on: bool = True) -> None:
        self._mount("-o", f"remount,{'ro' if on else 'rw'}", str(self.path))


@pytest.fixture
def small_disk(tmp_path) -> Iterator[SmallDisk]:
    path = tmp_path / "disk"
    path.mkdir()
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    mounted = subprocess.run(
        [*sudo, "mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(path)],
        check=False,
        capture_output=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here (needs root or passwordless sudo): {mounted.stderr.decode().strip()}"
        )
    try:
        yield SmallDisk(path, sudo)
    finally:
        subprocess.run(
            [*sudo, "umount", "-l", str(path)], check=False, capture_output=True, timeout=30
        )


def check_intact(folder: Path, inputs: list[str]) -> None:
    """trajectory.json is valid and holds exactly ``inputs``; every traj.jsonl line is valid JSON."""
    stored = caw.Trajectory.model_validate_json((folder / "trajectory.json").read_text())
    assert [t.input for t in stored.turns] == inputs
    for number, line in enumerate((folder / "traj.jsonl").read_text().splitlines(), 1):
        try:
            json.loads(line)
        except ValueError:
            raise AssertionError(f"traj.jsonl line {number} is damaged: {line[:200]!r}") from None
    assert not list(folder.glob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("fault", ["full", "read-only"])
async def test_a_turn_on_a_broken_disk_still_answers(
    provider, fault, small_disk, cli_env, scripted, leaks, record_property
):
    data = small_disk.path / "data"
    leaks.data_dir(data)
    agent = AsyncAgent(provider=provider, env=cli_env(provider), data_dir=data)
    session = await agent.start_session()
    try:
        first = await session.send(FACT)
        leaks.handle(session.resume_handle)
        assert first.warnings == []
        folder = session.session_dir
        assert folder is not None
        handle_before = (folder / "handle.json").read_text()

        # The disk breaks once the first turn is wholly recorded: a remount read-only is refused
        # (EBUSY) while the writer thread still holds a file, e.g. the trajectory.json it replaced.
        await session.flush()
        small_disk.fill() if fault == "full" else small_disk.readonly()
        # A long message: its traj.jsonl record is bigger than what is left of the file's last page.
        turn = await asyncio.wait_for(session.send(f"Repeat after me: {LONG_TEXT}"), TURN)
        assert turn.result == LONG_TEXT, "the answer arrives whatever the disk does"
        assert (await asyncio.wait_for(session.send(RECALL), TURN)).result == "staging-eu"
        assert turn.warnings, "the turn says that persistence failed"
        reason = "No space left on device" if fault == "full" else "Read-only file system"
        assert any(w.startswith("could not ") and reason in w for w in turn.warnings), turn.warnings
        check_intact(folder, [FACT])
        assert (folder / "handle.json").read_text() == handle_before

        small_disk.free() if fault == "full" else small_disk.readonly(False)
        third = await asyncio.wait_for(session.send("Repeat after me: writable again"), TURN)
        assert third.warnings == []
        check_intact(
            folder,
            [FACT, f"Repeat after me: {LONG_TEXT}", RECALL, "Repeat after me: writable again"],
        )
        # What the broken disk cost: the side records of the turns run meanwhile (trajectory.json lost nothing).
        ended = {
            json.loads(line)["turn"]
            for line in (folder / "traj.jsonl").read_text().splitlines()
            if '"turn_end"' in line
        }
        without_log = [n for n in (2, 3) if n not in ended]
        without_files = [
            n for n in (2, 3) if not (folder / "turns" / f"{n:03d}_input.txt").exists()
        ]
        record_property(
            "lost",
            f"{fault}: the traj.jsonl records of turns {without_log} and the turns/ files of "
            f"turns {without_files}, written meanwhile; trajectory.json caught up",
        )
    finally:
        if fault == "read-only":
            small_disk.readonly(False)
        await session.end()


async def test_the_daemon_reports_persistence_failures(
    small_disk, all_env, scripted, leaks, tmp_path, record_property
):
    """Through caw-server: the answer carries the warning; a session/start on a full disk fails
    with persistenceFailed (1011); the daemon keeps serving; the record catches up."""
    data = small_disk.path / "data"
    client = await leaks.daemon(data, all_env, tmp_path)
    try:
        await client.initialize()
        sid = (await client.start_session(provider="claude_code"))["sessionId"]
        await client.send(sid, FACT)
        small_disk.fill()
        answer = await client.send(sid, RECALL)
        assert answer["turn"]["result"] == "staging-eu"
        assert any("No space left on device" in w for w in answer["turn"]["warnings"]), answer[
            "turn"
        ]["warnings"]
        with pytest.raises(RpcError) as refused:
            await client.start_session(provider="claude_code")
        leaks.error(refused.value)
        assert (
            refused.value.kind == "persistenceFailed"
            and refused.value.code == wire.ERRORS["persistenceFailed"][0]
        )
        assert "No space left on device" in refused.value.message
        check_intact(data / "sessions" / sid, [FACT])
        small_disk.free()
        assert (await client.send(sid, "Repeat after me: writable again"))["turn"]["warnings"] == []
        check_intact(data / "sessions" / sid, [FACT, RECALL, "Repeat after me: writable again"])
        assert len(await client.list_sessions()) >= 1
    finally:
        await client.aclose()
    record_property("cases", 3)
