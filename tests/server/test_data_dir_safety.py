"""The daemon refuses a data dir someone else could write, and lists no planted session
(issue 21, finding 4). No backend is needed: everything is refused before one would start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from caw import Trajectory
from caw.client import RpcError
from caw.handle import ResumeHandle

PLANTED = "11111111-2222-3333-4444-555555555555"


def plant(data: Path, folder: str, session_id: str) -> None:
    path = data / "sessions" / folder
    path.mkdir(parents=True, mode=0o700)
    trajectory = Trajectory(agent="claude_code", session_id=session_id, cwd=str(data.parent))
    (path / "trajectory.json").write_text(trajectory.model_dump_json(by_alias=True))
    handle = ResumeHandle(provider="claude_code", session_id=session_id, resume_key=PLANTED)
    (path / "handle.json").write_text(handle.encode())


@pytest.mark.parametrize("how", ["other user", "world-writable"])
async def test_an_unsafe_data_dir_is_refused_with_its_path_and_fix(spawn_daemon, tmp_path, how):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    plant(data, PLANTED, PLANTED)
    if how == "other user":
        os.chown(data, 65534, -1)
    else:
        os.chmod(data, 0o777)
    client = await spawn_daemon("--data-dir", str(data))
    for request in (
        client.list_sessions(),
        client.resume(session_id=PLANTED),
        client.start_session(provider="claude_code"),
    ):
        with pytest.raises(RpcError) as refused:
            await request
        assert refused.value.kind == "persistenceFailed"
        assert str(data) in refused.value.message
        assert ("chown" if how == "other user" else "chmod 700") in refused.value.message


async def test_a_record_naming_another_session_is_not_listed(spawn_daemon, tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    plant(data, PLANTED, PLANTED)
    plant(data, "planted", "../../etc/evil id")
    client = await spawn_daemon("--data-dir", str(data))
    assert [s["sessionId"] for s in await client.list_sessions()] == [PLANTED]
