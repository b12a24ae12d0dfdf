"""The data_dir: one folder per session, written so a crash never loses a completed turn.

    <data_dir>/sessions/<session_id>/
        trajectory.json        the whole Trajectory, rewritten atomically after every turn
        handle.json            the resume handle (a credential: mode 0600)
        traj.jsonl             append-only log of turn starts, events and ends
        turns/NNN_input.txt    what the user sent in turn NNN (1-based)
        turns/NNN_raw_output.jsonl   the backend's raw wire lines for that turn

Everything is owner-only (dirs 0700, files 0600). Ids are checked before they
become paths. Write failures surface as :class:`~caw.errors.PersistenceFailed`. A data dir
that someone else could have planted things in is refused (:mod:`caw.store_safety`): another
user's or group/other-writable folders, symbolic links, a trajectory that names another session.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import CawError, InvalidHandle, PersistenceFailed, UnknownSession, UnsafeDataDir
from .handle import ResumeHandle, check_id, decode_handle
from .models import Trajectory, utcnow
from .session_lock import SessionLock
from .store_safety import check_private_dir, open_nofollow, read_text_nofollow

log = logging.getLogger("caw.store")

DIR_MODE = 0o700
FILE_MODE = 0o600
# metadata keys: why a listed session's trajectory.json could not be read (a stand-in), and
# why a resumed one started a fresh record (the old one was set aside).
CORRUPTED = "trajectory_corrupted"
RECOVERED = "trajectory_recovered"
# What a stand-in keeps of a corrupted trajectory.json that is still a JSON object.
SALVAGED_FIELDS = ("agent", "model", "cwd", "system_prompt", "session_title", "created_at")


def _salvage_string(text: str, key: str) -> str | None:
    """The first ``"key": "string"`` of a JSON text that may be torn (a trajectory.json cut
    off mid-write still has its head: agent, model, cwd come before the turns)."""
    found = re.search(rf'"{re.escape(key)}"\s*:\s*("(?:[^"\\]|\\.)*")', text)
    if found is None:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) else None


class TrajectoryCorrupted(CawError, ValueError):
    """A session's trajectory.json cannot be read (not JSON, not UTF-8, or not a trajectory).
    The session is still listed, marked (``metadata[CORRUPTED]``); resuming it sets the record
    aside and continues from the backend's own history (issue 21, finding 9)."""

    kind = "trajectoryCorrupted"


def atomic_write_text(path: Path, text: str, *, fsync: bool = True) -> None:
    """Write ``text`` to ``path`` via a private temp file + fsync + rename."""
    atomic_write_bytes(path, text.encode("utf-8"), FILE_MODE, fsync=fsync)


def atomic_write_bytes(path: Path, data: bytes, mode: int, *, fsync: bool = True) -> None:
    """``data`` into ``path`` through a temporary file beside it, fsync and a rename, so a
    reader (or a crash) never sees half a file; the file gets ``mode``. ``fsync=False``: the
    caller syncs it later (:meth:`SessionDir.sync`); a killed process still leaves it whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _append_line(path: Path, record: dict[str, Any]) -> None:
    _append_lines(path, [record])


def _append_lines(path: Path, records: list[dict[str, Any]]) -> None:
    """Append JSON lines, all or nothing: a failed write (a full disk) is cut off again,
    so it cannot leave a torn line that would run into the next one."""
    data = "".join(
        json.dumps(record, separators=(",", ":"), default=str) + "\n" for record in records
    ).encode("utf-8")
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


class SessionDir:
    """The on-disk folder of one session."""

    def __init__(self, path: Path):
        self.path = path
        self.turns_dir = path / "turns"
        self._writer: SessionLock | None = None

    def lock(self) -> None:
        """Hold this session's writer lock (:mod:`caw.session_lock`) until :meth:`unlock`;
        SessionBusy if another process holds it."""
        if self._writer is None:
            self._writer = SessionLock.acquire(self.path, self.path.name)

    def unlock(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    @property
    def trajectory_path(self) -> Path:
        return self.path / "trajectory.json"

    def _guard(self, what: str) -> contextlib.AbstractContextManager[None]:
        return _guard_writes(what, self.path)

    def ensure(self) -> None:
        with self._guard("create the session folder"):
            for folder, what in ((self.path, "the session folder"), (self.turns_dir, "turns/")):
                if not check_private_dir(folder, what):  # never through a link: checked first
                    folder.mkdir(mode=DIR_MODE, exist_ok=True)
                    check_private_dir(folder, what)

    def save_trajectory(self, trajectory: Trajectory) -> None:
        with self._guard("write trajectory.json"):
            atomic_write_text(
                self.trajectory_path, trajectory.model_dump_json(by_alias=True, indent=2)
            )

    def write_trajectory_text(self, text: str) -> int | None:
        """trajectory.json from its text (caw.recorder): written beside it and renamed over
        it, so a reader or a kill never sees half of it; fsynced later (:meth:`sync`). The
        temporary file has a fixed name: only the holder of the session's writer lock writes.

        Returns a descriptor of the file it replaced (None if there was none), for the caller
        to close later: while it is open the rename does not free that file's blocks, which
        took 0.25 of the 0.37 ms the rename cost (ext4, issue 20)."""
        tmp = self.path / ".trajectory.json.tmp"
        with self._guard("write trajectory.json"):
            fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            replaced = None
            try:
                try:
                    view = memoryview(text.encode("utf-8"))
                    while view:
                        view = view[os.write(fd, view) :]
                finally:
                    os.close(fd)
                with contextlib.suppress(FileNotFoundError):
                    replaced = open_nofollow(self.trajectory_path, os.O_RDONLY, FILE_MODE)
                os.replace(tmp, self.trajectory_path)
            except BaseException:
                if replaced is not None:
                    os.close(replaced)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            return replaced

    def sync(self, path: Path) -> None:
        """fsync a file written with ``fsync=False`` (gone since: nothing to do)."""
        with self._guard(f"sync {path.name}"):
            try:
                fd = open_nofollow(path, os.O_RDONLY, FILE_MODE)
            except FileNotFoundError:
                return
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def load_trajectory(self) -> Trajectory | None:
        """The stored trajectory (None if there is none). One that cannot be read raises
        :class:`TrajectoryCorrupted`, unless this process holds the session's writer lock (it
        is resuming or renaming it): then the broken record is set aside and a stand-in from
        what is still readable takes its place (:meth:`set_aside_corrupted`)."""
        try:
            trajectory = self._read_trajectory()
        except TrajectoryCorrupted as exc:
            if self._writer is None:
                raise
            return self.set_aside_corrupted(exc)
        return trajectory

    def _read_trajectory(self) -> Trajectory | None:
        try:
            text = read_text_nofollow(self.trajectory_path)
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise TrajectoryCorrupted(f"{self.trajectory_path} is not UTF-8 text") from None
        try:
            trajectory = Trajectory.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "the file"
            raise TrajectoryCorrupted(
                f"{self.trajectory_path} is not a readable trajectory ({where}: {first['msg']})"
            ) from None
        if trajectory.session_id != self.path.name:
            raise UnsafeDataDir(
                f"{self.trajectory_path} names session {trajectory.session_id!r}, not its folder's "
                f"{self.path.name!r}: a record that does not match its folder is not used"
            )
        return trajectory

    def stand_in(self, reason: str) -> Trajectory:
        """A trajectory for a session whose trajectory.json is corrupted, from what is still
        readable: the provider in handle.json, and the plain string fields (``cwd``, ``model``,
        ...) of the broken file, torn or not. ``metadata[CORRUPTED]`` says why; it has no turns."""
        fields: dict[str, Any] = {}
        try:
            text = read_text_nofollow(self.trajectory_path)
        except (OSError, ValueError):
            text = ""
        head = text.split('"turns"', 1)[0]  # caw writes these fields before the turns
        for key in SALVAGED_FIELDS:
            if isinstance(value := _salvage_string(head, key), str):
                fields[key] = value
        try:
            handle = self.load_handle()
        except (OSError, ValueError):
            handle = None
        if handle is not None:
            fields["agent"] = handle.provider
        fields.setdefault("agent", "unknown")
        fields.update(session_id=self.path.name, metadata={CORRUPTED: reason})
        try:
            return Trajectory.model_validate(fields)
        except ValidationError:  # a salvaged field of the wrong shape (a bad date): without them
            return Trajectory(
                agent=fields["agent"], session_id=self.path.name, metadata={CORRUPTED: reason}
            )

    def set_aside_corrupted(self, exc: TrajectoryCorrupted) -> Trajectory:
        """Move the corrupted trajectory.json and its turns/ into ``corrupted-<time>/`` (kept
        for inspection, out of the way of the turns to come) and return a stand-in that
        continues the session: its backend still has the conversation (resumed by key)."""
        trajectory = self.stand_in(str(exc))
        reason = trajectory.metadata.pop(CORRUPTED)
        aside = self.path / f"corrupted-{utcnow().strftime('%Y%m%dT%H%M%S%f')}"
        with self._guard("set the corrupted trajectory aside"):
            aside.mkdir(mode=DIR_MODE)
            os.replace(self.trajectory_path, aside / "trajectory.json")
            if check_private_dir(self.turns_dir, "turns/"):
                os.replace(self.turns_dir, aside / "turns")
        self.ensure()
        trajectory.metadata[RECOVERED] = f"{reason}; set aside in {aside.name}/"
        log.warning(
            "session %s: its trajectory.json was corrupted; set aside in %s, the session goes on"
            " from its backend's own history",
            self.path.name,
            aside,
        )
        self.save_trajectory(trajectory)
        return trajectory

    def save_handle(self, handle: ResumeHandle, *, fsync: bool = True) -> None:
        with self._guard("write handle.json"):
            atomic_write_text(self.path / "handle.json", handle.encode(), fsync=fsync)

    def load_handle(self) -> ResumeHandle | None:
        try:
            handle = decode_handle(read_text_nofollow(self.path / "handle.json"))
        except FileNotFoundError:
            return None
        if handle.session_id != self.path.name:
            raise UnsafeDataDir(
                f"{self.path / 'handle.json'} names session {handle.session_id!r}, not its "
                f"folder's {self.path.name!r}: a record that does not match its folder is not used"
            )
        return handle

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to traj.jsonl (never a handle)."""
        with self._guard("append to traj.jsonl"):
            _append_line(self.path / "traj.jsonl", {"ts": utcnow().isoformat(), **record})

    def begin_turn(self, number: int, text: str) -> None:
        """Write turn ``number``'s input and start its raw output afresh (a failed attempt leaves none)."""
        with self._guard("write the turn input"):
            atomic_write_text(self.turns_dir / f"{number:03d}_input.txt", text)
            (self.turns_dir / f"{number:03d}_raw_output.jsonl").unlink(missing_ok=True)

    def append_raw(self, number: int, record: dict[str, Any]) -> None:
        self.append_raw_lines(number, [record])

    def append_raw_lines(self, number: int, records: list[dict[str, Any]]) -> None:
        with self._guard("append the raw output"):
            _append_lines(self.turns_dir / f"{number:03d}_raw_output.jsonl", records)


@contextlib.contextmanager
def _guard_writes(what: str, where: Path) -> Iterator[None]:
    """Turns an OSError into PersistenceFailed naming what could not be written."""
    try:
        yield
    except PersistenceFailed:
        raise
    except OSError as exc:
        raise PersistenceFailed(f"could not {what} in {where}: {exc.strerror or exc}") from exc


class Store:
    """A data_dir holding many sessions."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.root = Path(data_dir).expanduser().resolve()
        self.sessions_dir = self.root / "sessions"

    def session(self, session_id: str) -> SessionDir:
        """The folder of ``session_id`` (which may not exist yet); UnsafeDataDir if the data dir
        or that folder could have been planted."""
        path = self.sessions_dir / check_id(session_id, "session id")
        self.check()
        check_private_dir(path, "the session folder")
        return SessionDir(path)

    def check(self) -> bool:
        """Whether the data dir exists; UnsafeDataDir if it or ``sessions/`` is a link, someone
        else's, or writable by group or others."""
        if not check_private_dir(self.root, "the data dir"):
            return False
        check_private_dir(self.sessions_dir, "the data dir's sessions folder")
        return True

    def ensure(self) -> None:
        """Create the data dir and its sessions folder, owner-only."""
        with _guard_writes("create the data dir", self.root):
            # The root too: under a lax umask a world-writable root would let anyone swap `sessions`.
            self.root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            check_private_dir(self.root, "the data dir")
            if not check_private_dir(self.sessions_dir, "the data dir's sessions folder"):
                self.sessions_dir.mkdir(mode=DIR_MODE, exist_ok=True)
                check_private_dir(self.sessions_dir, "the data dir's sessions folder")

    def create(self, session_id: str) -> SessionDir:
        self.ensure()
        sdir = self.session(session_id)
        sdir.ensure()
        return sdir

    def has(self, session_id: str) -> bool:
        try:
            return self.session(session_id).trajectory_path.exists()
        except InvalidHandle:
            return False

    def _stored(self, session_id: str) -> SessionDir:
        sdir = self.session(session_id)
        if not sdir.trajectory_path.exists():
            raise UnknownSession(f"no session {session_id} in the data dir {self.root}")
        return sdir

    def rename(self, session_id: str, title: str) -> Trajectory:
        """Store a new title for a session no process has open (SessionBusy if one has)."""
        sdir = self._stored(session_id)
        sdir.lock()
        try:
            trajectory = sdir.load_trajectory()
            if trajectory is None:
                raise UnknownSession(f"no session {session_id} in the data dir {self.root}")
            trajectory.session_title = " ".join(title.split())
            sdir.save_trajectory(trajectory)
            return trajectory
        finally:
            sdir.unlock()

    def delete(self, session_id: str) -> None:
        """Remove a session's folder, unless a process has it open (SessionBusy then)."""
        sdir = self._stored(session_id)
        sdir.lock()
        try:
            with _guard_writes("remove the session folder", sdir.path):
                shutil.rmtree(sdir.path)
        finally:
            sdir.unlock()

    def iter_trajectories(self) -> Iterator[tuple[SessionDir, Trajectory]]:
        """Every session, newest first; one whose trajectory.json is corrupted as a marked
        stand-in (:meth:`SessionDir.stand_in`); unreadable folders are skipped, and so are
        planted ones (a link, a bad id, a record naming another session), with a warning.
        UnsafeDataDir if the data dir itself could have been planted."""
        if not self.check() or not self.sessions_dir.is_dir():
            return
        found = []
        for child in self.sessions_dir.iterdir():
            sdir = SessionDir(child)
            try:
                check_id(child.name, "session folder name")
                check_private_dir(child, "the session folder")
                try:
                    traj = sdir.load_trajectory()
                except TrajectoryCorrupted as exc:  # listed, marked: it can still be resumed
                    log.warning("session %s: %s", child.name, exc)
                    traj = sdir.stand_in(str(exc))
                mtime = os.lstat(sdir.trajectory_path).st_mtime
            except UnsafeDataDir as exc:
                log.warning("skipping a session folder: %s", exc)
                continue
            except (OSError, ValueError):
                continue
            if traj is not None:
                found.append((mtime, sdir, traj))
        found.sort(key=lambda item: item[0], reverse=True)
        for _, sdir, traj in found:
            yield sdir, traj
