"""caw 0.1.9's ``SessionStore`` and ``JsonlWriter``, for code that writes a session record
itself. The folders are caw's (``caw.store``: owner-only, no links followed) and
``trajectory.json`` is caw's format; the ``traj.jsonl`` lines are 0.1.9's event vocabulary.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from ..models import TextBlock, ThinkingBlock, ToolUseBlock, Trajectory, Turn
from ..store import FILE_MODE, Store


class JsonlWriter:
    """Appends one JSON object per line, under an exclusive lock; ``subagent`` tags each line."""

    def __init__(self, path: str | os.PathLike[str], *, subagent: str | None = None) -> None:
        self._path = Path(path)
        self._subagent = subagent

    @property
    def path(self) -> Path:
        return self._path

    def append(self, entry: dict[str, Any]) -> None:
        if self._subagent:
            entry = {**entry, "subagent": self._subagent}
        line = json.dumps(entry) + "\n"
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "a", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            file.write(line)

    def write_metadata(self, trajectory: Trajectory) -> None:
        self.append(
            {
                "type": "metadata", "session_id": trajectory.session_id,
                "created_at": trajectory.created_at.isoformat(), "agent": trajectory.agent,
                "model": trajectory.model or "", "system_prompt": trajectory.system_prompt or "",
                "reasoning": trajectory.reasoning, "metadata": trajectory.metadata,
            }
        )  # fmt: skip

    def write_turn_events(self, turn: Turn, turn_index: int) -> None:
        self.append({"type": "user", "message": turn.input, "turn_index": turn_index})
        for block in turn.output:
            if isinstance(block, ThinkingBlock):
                self.append({"type": "thinking", "text": block.text, "turn_index": turn_index})
            elif isinstance(block, TextBlock):
                self.append({"type": "text", "text": block.text, "turn_index": turn_index})
            elif isinstance(block, ToolUseBlock):
                self.append(
                    {"type": "tool_call", "id": block.id, "name": block.name,
                     "arguments": block.input, "turn_index": turn_index}
                )  # fmt: skip
                self.append(
                    {"type": "tool_result", "id": block.id, "output": block.output or "",
                     "is_error": block.is_error, "turn_index": turn_index}
                )  # fmt: skip
        self.append(
            {"type": "turn_end", "turn_index": turn_index, "usage": turn.usage.to_dict(),
             "duration_ms": turn.duration_ms}
        )  # fmt: skip


class SessionStore:
    """One session's folder, ``<data_dir>/sessions/<session_id>/``: ``traj.jsonl``,
    ``trajectory.json`` and ``turns/NNN_input.txt`` / ``NNN_raw_output.jsonl``."""

    def __init__(
        self, data_dir: str | os.PathLike[str], session_id: str, resume: bool = False
    ) -> None:
        self._dir = Store(data_dir).create(session_id)
        self._turns = self._dir.path / "turns"
        self._turns.mkdir(mode=0o700, exist_ok=True)
        self._counter = self._next_index() if resume else 0
        self._jsonl = JsonlWriter(self._dir.path / "traj.jsonl")

    def _next_index(self) -> int:
        found = [int(p.name[:3]) for p in self._turns.glob("*_input.txt") if p.name[:3].isdigit()]
        return max(found) + 1 if found else 0

    @property
    def session_dir(self) -> Path:
        return self._dir.path

    @property
    def jsonl_path(self) -> Path:
        return self._jsonl.path

    def write_metadata(self, trajectory: Trajectory) -> None:
        self._jsonl.write_metadata(trajectory)

    def finalize(self, trajectory: Trajectory) -> None:
        self._dir.save_trajectory(trajectory)

    def append_turn(
        self, turn: Turn, trajectory: Trajectory, raw_output: str | None = None
    ) -> None:
        prefix = f"{self._counter:03d}"
        (self._turns / f"{prefix}_input.txt").write_text(turn.input, encoding="utf-8")
        if raw_output is not None:
            (self._turns / f"{prefix}_raw_output.jsonl").write_text(raw_output, encoding="utf-8")
        self._jsonl.write_turn_events(turn, self._counter)
        self._dir.save_trajectory(trajectory)
        self._counter += 1
