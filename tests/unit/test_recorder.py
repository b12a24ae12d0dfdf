"""caw.recorder: trajectory.json put together from cached turns, writes queued in order."""

from __future__ import annotations

import json

import caw
from caw.errors import PersistenceFailed
from caw.models import TextBlock, ToolUseBlock, Usage
from caw.recorder import SessionRecorder, Write, trajectory_text
from caw.store import Store


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
