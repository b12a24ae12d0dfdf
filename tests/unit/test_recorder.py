"""caw.recorder: trajectory.json put together from cached turns, writes queued in order."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

import caw
from caw.errors import PersistenceFailed
from caw.models import TextBlock, ToolUseBlock, Usage
from caw.recorder import SessionRecorder, Write, trajectory_text
from caw.store import SessionDir, Store


def _trajectory(turns: int) -> caw.Trajectory:
    return caw.Trajectory(
        agent="codex",
        session_id="s1",
        model="m",
        metadata={"turns": [], "note": 'a "turns":[] inside a string'},
        turns=[
            caw.Turn(
                index=i,
                input=f"question {i}",
                output=[
                    ToolUseBlock(id=f"t{i}", name="Bash", input={"command": "ls"}, output="x"),
                    TextBlock(text=f"answer {i}"),
                ],
                usage=Usage(input_tokens=i, output_tokens=2),
            )
            for i in range(turns)
        ],
    )


def test_the_text_is_the_trajectory_as_model_dump_json_makes_it():
    for n in (0, 1, 3):
        trajectory = _trajectory(n)
        made = trajectory_text(
            trajectory, [t.model_dump_json(by_alias=True) for t in trajectory.turns]
        )
        assert json.loads(made) == json.loads(trajectory.model_dump_json(by_alias=True))
        assert caw.Trajectory.model_validate_json(made) == trajectory


def test_a_recorded_turn_is_serialised_once_and_a_replaced_one_again(tmp_path, monkeypatch):
    recorder = SessionRecorder(Store(tmp_path).create("s1"))
    trajectory = _trajectory(2)
    dumped: list[str] = []
    original = caw.Turn.model_dump_json

    def counting(self, **kw):
        dumped.append(self.input)
        return original(self, **kw)

    monkeypatch.setattr(caw.Turn, "model_dump_json", counting)
    recorder.save_trajectory(trajectory)
    trajectory.turns.append(caw.Turn(index=2, input="question 2"))
    recorder.save_trajectory(trajectory)
    assert dumped == ["question 0", "question 1", "question 2"]
    trajectory.turns[1] = caw.Turn(index=1, input="replaced")
    recorder.save_trajectory(trajectory)
    assert dumped[3:] == ["replaced", "question 2"]
    on_disk = caw.Trajectory.model_validate_json(
        (tmp_path / "sessions/s1/trajectory.json").read_text()
    )
    assert [t.input for t in on_disk.turns] == ["question 0", "replaced", "question 2"]


async def test_queued_writes_run_in_order_and_their_failures_are_reported_once(tmp_path):
    recorder = SessionRecorder(Store(tmp_path).create("s1"))
    done: list[int] = []

    def fail(_dir):
        raise PersistenceFailed("could not append to traj.jsonl: disk full")

    def note(i: int) -> Write:
        return lambda _dir: done.append(i)

    for i in range(50):
        recorder.later(note(i))
    recorder.later(fail)
    assert await recorder.settle() == ["could not append to traj.jsonl: disk full"]
    assert done == list(range(50))
    assert await recorder.settle() == []


def _open_files() -> set[str]:
    fds = Path("/proc/self/fd")
    found = set()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            found.add(os.readlink(fd))
    return found


async def test_the_replaced_trajectory_is_let_go_off_the_path(tmp_path):
    """The file a save replaces stays open until the writer thread has fsynced the new one
    (so its blocks are freed there, not in the rename), and is closed then."""
    folder = Store(tmp_path).create("s1")
    recorder = SessionRecorder(folder)
    release = threading.Event()

    def busy(_dir: SessionDir) -> None:  # the writer thread is busy until released
        release.wait(30)

    recorder.later(busy)
    recorder.save_trajectory(_trajectory(1))
    recorder.save_trajectory(_trajectory(2))
    assert any(name.endswith("trajectory.json (deleted)") for name in _open_files())
    release.set()
    assert await recorder.settle() == []
    assert not any("trajectory.json" in name for name in _open_files())
    on_disk = caw.Trajectory.model_validate_json(folder.trajectory_path.read_text())
    assert on_disk.num_turns == 2 and on_disk.usage.input_tokens == 1


def test_a_total_of_usages_adds_tokens_and_costs_and_keeps_the_last_context():
    usages = [
        Usage(input_tokens=1, output_tokens=2, context_tokens=10, context_window=100),
        Usage(input_tokens=3, cache_read_tokens=4, cost_usd=0.5),
        Usage(cache_write_tokens=5, cost_usd=0.25, context_tokens=20),
    ]
    total = Usage.total(usages)
    assert total.model_dump() == Usage(
        input_tokens=4, output_tokens=2, cache_read_tokens=4, cache_write_tokens=5,
        cost_usd=0.75, context_tokens=20, context_window=100,
    ).model_dump()  # fmt: skip
    assert Usage.total([]) == Usage() and Usage.total([Usage(), Usage()]).cost_usd is None
