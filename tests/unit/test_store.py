import json
import os
import stat

import pytest

from caw import PersistenceFailed, Trajectory, Turn
from caw.handle import ResumeHandle
from caw.models import TextBlock
from caw.store import CORRUPTED, RECOVERED, Store, TrajectoryCorrupted, atomic_write_text


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_session_dir_layout_and_permissions(tmp_path):
    store = Store(tmp_path / "data")
    sdir = store.create("s1")
    traj = Trajectory(
        agent="claude_code",
        session_id="s1",
        turns=[Turn(input="hi", output=[TextBlock(text="yo")])],
    )
    sdir.save_trajectory(traj)
    sdir.save_handle(ResumeHandle(provider="claude_code", session_id="s1", resume_key="k"))
    sdir.begin_turn(1, "hi")
    sdir.append_raw(1, {"type": "x"})
    sdir.log({"type": "turn_start"})
    assert mode(sdir.path) == 0o700
    for name in [
        "trajectory.json",
        "handle.json",
        "traj.jsonl",
        "turns/001_input.txt",
        "turns/001_raw_output.jsonl",
    ]:
        assert mode(sdir.path / name) == 0o600, name
    trajectory, handle = sdir.load_trajectory(), sdir.load_handle()
    assert trajectory is not None and trajectory.turns[0].result == "yo"
    assert handle is not None and handle.resume_key == "k"
    assert store.has("s1") and not store.has("s2") and not store.has("../x")
    assert [t.session_id for _, t in store.iter_trajectories()] == ["s1"]


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left on device"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left behind


def test_write_failures_become_persistence_failed(tmp_path, monkeypatch):
    sdir = Store(tmp_path / "data").create("s1")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("caw.store.tempfile.mkstemp", disk_full)
    with pytest.raises(
        PersistenceFailed, match=r"could not write trajectory\.json .*No space left on device"
    ):
        sdir.save_trajectory(Trajectory(agent="x", session_id="s1"))


def test_a_corrupted_trajectory_is_listed_marked(tmp_path):
    """Not skipped (issue 21, finding 9): listed without turns, ``metadata[CORRUPTED]`` says
    why, with what is still readable (the provider from handle.json)."""
    store = Store(tmp_path)
    store.create("good").save_trajectory(Trajectory(agent="codex", session_id="good"))
    bad = store.create("bad")
    bad.trajectory_path.write_text("{not json")
    bad.save_handle(ResumeHandle(provider="opencode", session_id="bad", resume_key="ses_x"))
    listed = {t.session_id: t for _, t in store.iter_trajectories()}
    assert sorted(listed) == ["bad", "good"]
    assert listed["bad"].agent == "opencode" and listed["bad"].turns == []
    assert "is not a readable trajectory" in listed["bad"].metadata[CORRUPTED]
    assert CORRUPTED not in listed["good"].metadata
    with pytest.raises(TrajectoryCorrupted) as corrupted:  # a reader that is not the writer
        bad.load_trajectory()
    assert corrupted.value.kind == "trajectoryCorrupted"
    assert "ses_x" not in str(corrupted.value)


def test_a_corrupted_trajectory_keeps_what_is_still_readable(tmp_path):
    store = Store(tmp_path)
    sdir = store.create("s1")
    sdir.trajectory_path.write_text(
        json.dumps({"agent": "codex", "session_id": "s1", "cwd": "/w", "model": "m", "turns": 7})
    )
    [(_, stand_in)] = list(store.iter_trajectories())
    assert (stand_in.agent, stand_in.cwd, stand_in.model) == ("codex", "/w", "m")
    assert "turns" in stand_in.metadata[CORRUPTED]


def test_the_writer_sets_a_corrupted_trajectory_aside_and_goes_on(tmp_path):
    """The process that holds the session's writer lock (resume, rename) gets a stand-in: the
    broken file and its turns move to corrupted-<time>/, a valid trajectory takes its place."""
    store = Store(tmp_path)
    sdir = store.create("s1")
    sdir.save_handle(ResumeHandle(provider="claude_code", session_id="s1", resume_key="k"))
    sdir.begin_turn(1, "hi")
    sdir.trajectory_path.write_bytes(b"\xff\xfe")  # not even UTF-8
    sdir.lock()  # what a resume (or a rename) does first
    try:
        recovered = sdir.load_trajectory()
    finally:
        sdir.unlock()
    assert recovered is not None and recovered.agent == "claude_code"
    assert "not UTF-8" in recovered.metadata[RECOVERED]
    [aside] = [p for p in sdir.path.iterdir() if p.name.startswith("corrupted-")]
    assert (aside / "trajectory.json").read_bytes() == b"\xff\xfe"
    assert (aside / "turns" / "001_input.txt").read_text() == "hi"
    assert list(sdir.turns_dir.iterdir()) == []  # the next turn 1 overwrites nothing
    stored = sdir.load_trajectory()
    assert stored is not None and CORRUPTED not in stored.metadata
    assert [t.session_id for _, t in store.iter_trajectories()] == ["s1"]


def test_trajectory_round_trips_through_json():
    traj = Trajectory(
        agent="codex",
        session_id="s",
        turns=[Turn(input="a", output=[TextBlock(text="b")])],
        metadata={"k": 1},
    )
    again = Trajectory.model_validate_json(traj.model_dump_json(by_alias=True))
    assert again == traj
    data = json.loads(traj.model_dump_json(by_alias=True))
    assert data["numTurns"] == 1 and data["result"] == "b" and data["sessionId"] == "s"


def test_a_retried_turn_starts_its_raw_output_afresh(tmp_path):
    sdir = Store(tmp_path).create("s1")
    sdir.begin_turn(1, "first try")
    sdir.append_raw(1, {"attempt": 1})
    sdir.begin_turn(1, "second try")
    sdir.append_raw(1, {"attempt": 2})
    assert (sdir.turns_dir / "001_raw_output.jsonl").read_text() == '{"attempt":2}\n'
    assert (sdir.turns_dir / "001_input.txt").read_text() == "second try"
