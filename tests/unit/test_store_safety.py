"""The data dir is not trusted blindly (issue 21, finding 4).

A data dir that someone else could write is refused with an error naming the path and the
fix; links inside it are never followed; a record that names another session is not used.
Tests run as root here, so "another user" is simulated with chown to uid 65534.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from caw import AsyncAgent, PersistenceFailed, Trajectory
from caw.errors import UnsafeDataDir
from caw.handle import ResumeHandle
from caw.store import Store

OTHER_UID = 65534  # nobody


def plant(data: Path, folder: str, session_id: str, cwd: str = "/") -> None:
    """A session written by someone else: trajectory and handle, as caw would write them."""
    path = data / "sessions" / folder
    path.mkdir(parents=True, exist_ok=True)
    trajectory = Trajectory(agent="claude_code", session_id=session_id, cwd=cwd)
    (path / "trajectory.json").write_text(trajectory.model_dump_json(by_alias=True))
    handle = ResumeHandle(provider="claude_code", session_id=session_id, resume_key=session_id)
    (path / "handle.json").write_text(handle.encode())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    store = Store(tmp_path / "data")
    store.ensure()
    return store.root


@pytest.mark.parametrize("folder", ["", "sessions"])
@pytest.mark.parametrize("how", ["other user", "group-writable", "world-writable"])
async def test_a_data_dir_others_can_write_is_refused(data, folder, how):
    target = data / folder if folder else data
    if how == "other user":
        os.chown(target, OTHER_UID, -1)
    else:
        os.chmod(target, 0o770 if how == "group-writable" else 0o777)
    plant(data, "11111111-2222-3333-4444-555555555555", "11111111-2222-3333-4444-555555555555")
    store = Store(data)
    fix = f"chown -R {os.geteuid()} {target}" if how == "other user" else f"chmod 700 {target}"
    for attempt in (
        lambda: list(store.iter_trajectories()),
        lambda: store.create("s1"),
        lambda: store.has("11111111-2222-3333-4444-555555555555"),
    ):
        with pytest.raises(UnsafeDataDir, match=str(target)) as refused:
            attempt()
        assert fix in str(refused.value)
    agent = AsyncAgent("claude_code", data_dir=data)
    with pytest.raises(UnsafeDataDir, match=str(target)):
        await agent.start_session()  # refused before any backend starts
    with pytest.raises(UnsafeDataDir, match=str(target)):
        await agent.resume_session("11111111-2222-3333-4444-555555555555")
    assert isinstance(refused.value, PersistenceFailed)  # the daemon answers persistenceFailed


def test_a_private_data_dir_is_accepted_and_created_owner_only(tmp_path):
    store = Store(tmp_path / "new" / "data")
    store.create("s1")
    assert os.stat(store.root).st_mode & 0o777 == 0o700
    assert os.stat(store.sessions_dir).st_mode & 0o777 == 0o700
    os.chmod(store.root, 0o755)  # readable by others is fine: the files inside are 0600
    assert store.check()


def test_links_inside_a_session_folder_are_not_followed(data, tmp_path):
    store = Store(data)
    sdir = store.create("s1")
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    (sdir.path / "traj.jsonl").symlink_to(victim)
    with pytest.raises(UnsafeDataDir, match=r"traj\.jsonl is a symbolic link"):
        sdir.log({"type": "turn_start"})
    sdir.begin_turn(1, "hi")
    (sdir.turns_dir / "001_raw_output.jsonl").symlink_to(victim)
    with pytest.raises(UnsafeDataDir, match="symbolic link"):
        sdir.append_raw(1, {"type": "x"})
    for name in ("trajectory.json", "handle.json"):
        (sdir.path / name).unlink(missing_ok=True)
        (sdir.path / name).symlink_to(victim)
    with pytest.raises(UnsafeDataDir):
        sdir.load_trajectory()
    with pytest.raises(UnsafeDataDir):
        sdir.load_handle()
    assert victim.read_text() == "untouched\n"


def test_a_linked_turns_folder_is_refused(data, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    (data / "sessions" / "s1").mkdir(mode=0o700)
    (data / "sessions" / "s1" / "turns").symlink_to(elsewhere)
    with pytest.raises(UnsafeDataDir, match=r"turns/ .* is a symbolic link"):
        Store(data).create("s1")
    assert list(elsewhere.iterdir()) == []


def test_a_linked_session_folder_is_refused_and_its_target_untouched(data, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    plant(tmp_path, "x", "s1")  # a real session record, in tmp_path/sessions/x
    (data / "sessions" / "s1").symlink_to(tmp_path / "sessions" / "x")
    (data / "sessions" / "s2").symlink_to(elsewhere)
    store = Store(data)
    for session_id in ("s1", "s2"):
        with pytest.raises(UnsafeDataDir, match=r"session folder .* is a symbolic link"):
            store.create(session_id)
        with pytest.raises(UnsafeDataDir):
            store.has(session_id)
    assert list(store.iter_trajectories()) == []  # skipped, with a warning
    assert os.stat(elsewhere).st_mode & 0o777 == 0o755 and list(elsewhere.iterdir()) == []


async def test_a_record_naming_another_session_is_not_listed_or_resumed(data, caplog):
    good, other = "11111111-2222-3333-4444-555555555555", "66666666-2222-3333-4444-555555555555"
    plant(data, good, good)
    plant(data, "planted", "../../etc/evil id", cwd="/somewhere/with/a/plugin")
    plant(data, other, good)  # a copy of another session's record
    store = Store(data)
    assert [t.session_id for _, t in store.iter_trajectories()] == [good]
    assert "names session '../../etc/evil id'" in caplog.text
    agent = AsyncAgent("claude_code", data_dir=data)
    with pytest.raises(
        UnsafeDataDir, match=f"handle.json names session '{good}', not its folder's"
    ):
        await agent.resume_session(other)
    handle = json.loads((data / "sessions" / other / "handle.json").read_text())
    assert handle["session_id"] == good  # nothing was rewritten
