"""caw.changes: the shadow repository's snapshots, a turn's changes, review and revert (real git)."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from caw import changes
from caw.changes import ChangesUnavailable, ChangeTracker
from caw.errors import FilesChangedSince
from caw.events import Event, TextDelta
from caw.models import Trajectory
from caw.providers.base import Conversation, ConversationOptions, Provider
from caw.session import AsyncSession
from caw.store import Store
from tests.support.procs import descendants

pytestmark = pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
    reason="git is not installed",
)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / ".gitignore").write_text("build/\n*.log\n")
    (folder / "src").mkdir()
    (folder / "src" / "stats.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n")
    (folder / "notes with spaces.md").write_text("first\n")
    (folder / "logo.bin").write_bytes(b"\x89PNG\0\1\2")
    (folder / "gone.txt").write_text("soon deleted\n")
    (folder / "build").mkdir()
    (folder / "build" / "out.o").write_bytes(b"\0object")
    (folder / "debug.log").write_text("noise\n")
    return folder


@pytest.fixture
def tracker(tmp_path: Path, work: Path) -> ChangeTracker:
    session_dir = tmp_path / "session"
    session_dir.mkdir(mode=0o700)
    return ChangeTracker.for_session(session_dir, work)


async def turn(tracker: ChangeTracker, number: int, edit) -> list[tuple[str, str]]:
    before = await tracker.snapshot()
    edit()
    after = await tracker.snapshot()
    return [(c.path, c.status) for c in await tracker.record(number, before, after)]


def edit_everything(work: Path) -> None:
    (work / "src" / "stats.py").write_text("def mean(xs):\n    return sum(xs) / max(len(xs), 1)\n")
    (work / "notes with spaces.md").write_text("first\nsecond\n")
    (work / "logo.bin").write_bytes(b"\x89PNG\0\3\4")
    (work / "gone.txt").unlink()
    (work / "new dir").mkdir()
    (work / "new dir" / "added file.txt").write_text("hello\n")
    (work / "build" / "out.o").write_bytes(b"\0changed")  # ignored: never listed
    (work / "debug.log").write_text("more noise\n")


async def test_a_turn_lists_added_modified_and_deleted_files_but_not_ignored_ones(tracker, work):
    changes = await turn(tracker, 1, lambda: edit_everything(work))
    assert sorted(changes) == [
        ("gone.txt", "deleted"),
        ("logo.bin", "modified"),
        ("new dir/added file.txt", "added"),
        ("notes with spaces.md", "modified"),
        ("src/stats.py", "modified"),
    ]


async def test_review_gives_text_before_and_after_and_marks_binary_files(tracker, work):
    await turn(tracker, 1, lambda: edit_everything(work))
    files = {f.path: f for f in await tracker.changes(1)}
    assert files["src/stats.py"].before == "def mean(xs):\n    return sum(xs) / len(xs)\n"
    assert files["src/stats.py"].after.endswith("max(len(xs), 1)\n")
    assert (files["gone.txt"].before, files["gone.txt"].after) == ("soon deleted\n", None)
    added = files["new dir/added file.txt"]
    assert (added.status, added.before, added.after) == ("added", None, "hello\n")
    logo = files["logo.bin"]
    assert logo.binary and logo.before is None and logo.after is None


async def test_revert_restores_every_file_as_it_was_before_the_turn(tracker, work):
    originals = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    os.chmod(work / "src" / "stats.py", 0o755)
    await turn(tracker, 1, lambda: edit_everything(work))
    reverted = await tracker.revert(1)
    assert len(reverted) == 5
    for path, data in originals.items():
        if "build" in path.parts or path.name == "debug.log":
            continue  # ignored files are not the turn's: left as they are
        assert path.read_bytes() == data, path
    assert not (work / "new dir" / "added file.txt").exists()
    assert stat.S_IMODE((work / "src" / "stats.py").stat().st_mode) & 0o100, "mode kept"
    assert (work / "build" / "out.o").read_bytes() == b"\0changed"


async def test_revert_is_refused_and_writes_nothing_when_a_file_changed_since(tracker, work):
    await turn(tracker, 1, lambda: edit_everything(work))
    (work / "notes with spaces.md").write_text("edited by hand\n")
    with pytest.raises(FilesChangedSince) as refused:
        await tracker.revert(1)
    assert refused.value.files == ["notes with spaces.md"]
    assert (work / "notes with spaces.md").read_text() == "edited by hand\n"
    assert (work / "src" / "stats.py").read_text().endswith("max(len(xs), 1)\n"), "untouched"
    assert not (work / "gone.txt").exists()


async def test_a_later_turn_is_its_own_and_an_earlier_revert_sees_it(tracker, work):
    await turn(tracker, 1, lambda: (work / "src" / "stats.py").write_text("one\n"))
    second = await turn(tracker, 2, lambda: (work / "src" / "stats.py").write_text("two\n"))
    assert second == [("src/stats.py", "modified")]
    with pytest.raises(FilesChangedSince):
        await tracker.revert(1)
    assert await tracker.revert(2) == ["src/stats.py"]
    assert (work / "src" / "stats.py").read_text() == "one\n"
    assert await tracker.revert(1) == ["src/stats.py"]


@pytest.fixture
def repository(work: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    return work


async def test_the_users_git_repository_is_never_written(tmp_path, repository):
    work = repository
    before = sorted(p.relative_to(work / ".git") for p in (work / ".git").rglob("*"))
    session_dir = tmp_path / "other-session"
    session_dir.mkdir(mode=0o700)
    tracker = ChangeTracker.for_session(session_dir, work)
    changes = await turn(tracker, 1, lambda: (work / "x.txt").write_text("x\n"))
    assert changes == [("x.txt", "added")], ".git is never part of a snapshot"
    assert sorted(p.relative_to(work / ".git") for p in (work / ".git").rglob("*")) == before
    shadow = session_dir / "shadow.git"
    assert stat.S_IMODE(shadow.stat().st_mode) == 0o700


async def test_an_unknown_turn_is_a_clear_error(tracker):
    with pytest.raises(ValueError, match="turn 3 has no recorded snapshots"):
        await tracker.changes(3)
    with pytest.raises(ValueError, match="numbered from 1"):
        await tracker.revert(0)


async def test_without_a_data_dir_the_shadow_repository_is_temporary(work):
    tracker = ChangeTracker.for_session(None, work)
    await turn(tracker, 1, lambda: (work / "y.txt").write_text("y\n"))
    assert tracker.git_dir.exists()
    tracker.close()
    assert not tracker.git_dir.exists()


async def test_a_folder_too_large_to_snapshot_is_refused_once_measured(tracker, work, monkeypatch):
    monkeypatch.setattr(changes, "MAX_BYTES", 40)
    with pytest.raises(ChangesUnavailable, match="too much to snapshot"):
        await tracker.snapshot()
    (work / "build" / "big.o").write_bytes(b"\0" * 1000)  # ignored files do not count
    monkeypatch.setattr(changes, "MAX_BYTES", 10_000)
    fresh = ChangeTracker.for_session(tracker.git_dir.parent, work)
    assert await fresh.snapshot()
    monkeypatch.setattr(changes, "MAX_FILES", 3)
    with pytest.raises(ChangesUnavailable, match="too many"):
        await ChangeTracker.for_session(tracker.git_dir.parent, work).snapshot()


async def test_a_same_size_edit_right_after_a_snapshot_is_seen(tracker, work):
    # Later snapshots trust the shadow index's stat data (and skip write-tree when `add`
    # changed nothing): an edit within the same instant, same size, must still count.
    stats = work / "src" / "stats.py"
    first = await tracker.snapshot()
    assert await tracker.snapshot() == first, "nothing changed: the same tree"
    stats.write_text(stats.read_text().replace("sum", "mum"))
    changed = await tracker.snapshot()
    assert changed != first
    assert [(c.path, c.status) for c in await tracker.record(1, first, changed)] == [
        ("src/stats.py", "modified")
    ]
    assert await tracker.record(2, changed, changed) == [], "a quiet turn"


# --- the session's use of it: the baseline at start, user edits between turns ---------


class EditingConversation(Conversation):
    """A backend whose every turn runs the next of ``edits`` (its "tool calls")."""

    def __init__(self, edits: list[Callable[[], object]]):
        self.edits = edits
        self.resume_key = "key-1"

    @property
    def alive(self) -> bool:
        return True

    async def send(self, text: str, raw: Callable[[dict[str, Any]], None]) -> AsyncIterator[Event]:
        self.edits.pop(0)()
        yield TextDelta(text="done")

    async def interrupt(self) -> None:
        pass

    async def close(self) -> None:
        pass


class EditingProvider(Provider):
    name = "claude_code"
    cli = "fake"
    npm_package = "fake"

    def __init__(self, edits: list[Callable[[], object]]):
        self.edits = edits

    async def start(self, options: ConversationOptions) -> Conversation:
        return EditingConversation(self.edits)

    async def resume(self, resume_key: str, options: ConversationOptions) -> Conversation:
        return EditingConversation(self.edits)


def tracked_session(tmp_path: Path, work: Path, edits: list[Callable[[], object]]) -> AsyncSession:
    sdir = Store(tmp_path / "data").create("s1")
    return AsyncSession(
        provider=EditingProvider(edits),
        options=ConversationOptions(session_id="s1", cwd=str(work)),
        trajectory=Trajectory(agent="claude_code", session_id="s1"),
        session_dir=sdir,
        changes=ChangeTracker.for_session(sdir.path, work),
    )


def shadow_file(session: AsyncSession, rev: str, path: str) -> str:
    assert session.change_tracker is not None
    return subprocess.run(
        ["git", "--git-dir", str(session.change_tracker.git_dir), "show", f"{rev}:{path}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


async def test_the_baseline_is_taken_at_start_and_user_edits_are_not_the_turns(tmp_path, work):
    stats, notes = work / "src" / "stats.py", work / "notes with spaces.md"
    at_start = stats.read_text()
    session = tracked_session(
        tmp_path,
        work,
        [
            lambda: stats.write_text("turn 1\n"),
            lambda: (work / "turn 2.txt").write_text("turn 2\n"),
        ],
    )
    await session.changes_baseline()  # started with the session, before any send
    assert shadow_file(session, "refs/caw/baseline", "src/stats.py") == at_start

    # The user edits between the start and the first send, and between the two turns.
    notes.write_text("edited by the user before the first send\n")
    first = await session.send("edit")
    assert [(c.path, c.status) for c in first.changes] == [("src/stats.py", "modified")]
    (work / "mine.txt").write_text("the user's\n")
    notes.write_text("edited by the user between turns\n")
    second = await session.send("add")
    assert [(c.path, c.status) for c in second.changes] == [("turn 2.txt", "added")]

    # Reverting a turn touches only its own files; the user's edits stay.
    assert await session.revert(2) == ["turn 2.txt"]
    assert await session.revert(1) == ["src/stats.py"]
    assert stats.read_text() == at_start
    assert notes.read_text() == "edited by the user between turns\n"
    assert (work / "mine.txt").read_text() == "the user's\n"
    await session.end()


@pytest.mark.parametrize("step", ["add", "write-tree"])
async def test_a_baseline_stopped_midway_leaves_no_git_process_and_no_lock(
    tmp_path, work, monkeypatch, step
):
    for i in range(3000):  # enough files and folders that git is still at work when stopped
        (work / f"dir{i}").mkdir()
        (work / f"dir{i}" / "file.txt").write_text(f"{i}\n" * 50)
    adding = asyncio.Event()
    spawn = asyncio.create_subprocess_exec

    async def spawn_and_tell(*command: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await spawn(*command, **kwargs)
        if step in command:
            adding.set()
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spawn_and_tell)
    session = tracked_session(tmp_path, work, [])
    await asyncio.wait_for(adding.wait(), 60)
    await session.end()  # stops the baseline's `add` (or its tree's writing) where it is
    assert not [cmd for cmd in descendants(os.getpid()).values() if "git" in cmd]
    assert session.change_tracker is not None
    shadow = session.change_tracker.git_dir
    assert not (shadow / "index.lock").exists()
    assert await ChangeTracker.for_session(shadow.parent, work).snapshot()


async def test_a_capture_holds_the_files_as_they_were_even_before_its_tree_is_written(
    tracker, work
):
    # The prompt goes out once capture() returns; the tree comes later, from a frozen copy
    # of the shadow index, so the turn's edits made meanwhile are not in the before-state.
    stats = work / "src" / "stats.py"
    await tracker.baseline()
    stats.write_text("saved by the user just before sending\n")
    pending = await tracker.capture()
    stats.write_text("written by the turn\n")
    (work / "late.txt").write_text("the turn's\n")
    after = await tracker.snapshot()  # may run before the before-tree is written
    before = await pending
    assert [(c.path, c.status) for c in await tracker.record(1, before, after)] == [
        ("late.txt", "added"),
        ("src/stats.py", "modified"),
    ]
    assert (await tracker.changes(1))[1].before == "saved by the user just before sending\n"
    assert not list(tracker.git_dir.glob("index.frozen-*")), "the frozen copies are removed"


async def test_an_empty_folder_is_tracked_from_its_first_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    session = tracked_session(tmp_path, empty, [lambda: (empty / "first.txt").write_text("1\n")])
    await session.changes_baseline()
    turn = await session.send("write")
    assert [(c.path, c.status) for c in turn.changes] == [("first.txt", "added")]
    assert turn.warnings == []
    await session.end()
