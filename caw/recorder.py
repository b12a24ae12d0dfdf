"""A live session's writes to its data dir, kept off the answer's path (issue 20).

The answer waits only for the turn's own record: trajectory.json is put together from the
JSON of the turns before (each turn is serialised once, when it ends) and replaced by a
rename, so a reader sees the new turn as soon as ``send`` returns and a kill -9 after that
loses nothing. Everything else (the turn's input, its raw output lines, traj.jsonl, the fsyncs)
runs in order on one writer thread while the turn waits for its model. The next turn starts
only once all of it is done: a completed turn is on disk, fsynced, before the next one starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .errors import PersistenceFailed
from .models import Trajectory, Turn
from .store import SessionDir

log = logging.getLogger("caw.recorder")

Write = Callable[[SessionDir], None]

RAW_BATCH_SECONDS = 0.05

_writer: ThreadPoolExecutor | None = None
_writer_made = threading.Lock()


def _writer_thread() -> ThreadPoolExecutor:
    """One writer thread per process, shared by its sessions (FIFO keeps each one's order);
    its pending writes are finished at interpreter exit (concurrent.futures joins it)."""
    global _writer
    with _writer_made:
        if _writer is None:
            _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caw-recorder")
        return _writer


def trajectory_text(trajectory: Trajectory, turns_json: list[str]) -> str:
    """trajectory.json's text: the trajectory's own fields, then ``turns_json`` (one turn
    per line). The same JSON as ``model_dump_json``, without re-serialising old turns."""
    head = trajectory.model_dump_json(by_alias=True, exclude={"turns"})
    turns = "[\n" + ",\n".join(turns_json) + "\n]" if turns_json else "[]"
    return f'{head[:-1]}{"," if head != "{}" else ""}"turns":{turns}}}'


class SessionRecorder:
    """The writes of one session's folder: :meth:`later` queues, :meth:`settle` waits."""

    def __init__(self, folder: SessionDir) -> None:
        self.folder = folder
        self._last: Future[None] | None = None
        self._failures: list[str] = []
        # Raw output lines gather here (on the event loop) and go to the writer thread in
        # batches, RAW_BATCH_SECONDS apart: a job per line cost more than writing it.
        self._raw: list[tuple[int, dict[str, Any]]] = []
        self._raw_timer: asyncio.TimerHandle | None = None
        # (turn, its JSON): a recorded turn does not change, so its JSON is made once.
        self._turns_json: list[tuple[Turn, str]] = []

    def later(self, write: Write) -> None:
        """Run ``write`` on the writer thread, after everything queued before it."""
        self._last = _writer_thread().submit(self._run, write)

    def append_raw(self, number: int, record: dict[str, Any]) -> None:
        """One raw output line of turn ``number`` (turns/NNN_raw_output.jsonl)."""
        self._raw.append((number, record))
        if self._raw_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop: at once
                self._flush_raw()
                return
            self._raw_timer = loop.call_later(RAW_BATCH_SECONDS, self._flush_raw)

    def _flush_raw(self) -> None:
        if self._raw_timer is not None:
            self._raw_timer.cancel()
            self._raw_timer = None
        lines, self._raw = self._raw, []
        if not lines:
            return

        def write(folder: SessionDir) -> None:
            for number in dict.fromkeys(n for n, _ in lines):
                folder.append_raw_lines(number, [record for n, record in lines if n == number])

        self.later(write)

    def _run(self, write: Write) -> None:
        try:
            write(self.folder)
        except PersistenceFailed as exc:
            self._failures.append(str(exc))
        except Exception as exc:  # a bug must not kill the writer thread's other sessions
            log.exception("session %s: a data dir write failed", self.folder.path.name)
            self._failures.append(f"could not write to {self.folder.path}: {exc}")

    async def settle(self) -> list[str]:
        """Wait until every queued write is done; the failures since the last settle."""
        self._flush_raw()
        last = self._last
        if last is not None and not last.done():
            await asyncio.shield(asyncio.wrap_future(last))
        failures, self._failures = self._failures, []
        return failures

    def settle_now(self) -> list[str]:
        """:meth:`settle` for code that cannot await (a rename between turns)."""
        self._flush_raw()
        if self._last is not None:
            self._last.result()
        failures, self._failures = self._failures, []
        return failures

    def save_trajectory(self, trajectory: Trajectory) -> None:
        """trajectory.json now (atomic; PersistenceFailed if it cannot be written), its fsync
        on the writer thread."""
        text = trajectory_text(trajectory, self._turn_lines(trajectory))
        replaced = self.folder.write_trajectory_text(text)

        def sync(folder: SessionDir) -> None:
            try:
                folder.sync(folder.trajectory_path)
            finally:
                if replaced is not None:
                    os.close(replaced)  # the old file's blocks are freed here, off the path

        self.later(sync)

    def turn_changed(self, index: int) -> None:
        """Turn ``index`` was changed after it was recorded: serialise it again."""
        del self._turns_json[index:]

    def _turn_lines(self, trajectory: Trajectory) -> list[str]:
        cached = self._turns_json
        for i, turn in enumerate(trajectory.turns):
            if i >= len(cached) or cached[i][0] is not turn:
                del cached[i:]
                cached.append((turn, turn.model_dump_json(by_alias=True)))
        del cached[len(trajectory.turns) :]
        return [text for _, text in cached]
