"""Review and revert: what each turn changed in the session's folder, whatever tool did it.

With change tracking on, caw snapshots the session's working directory before the prompt
goes to the CLI and after the turn, into a shadow git repository of its own (in the
session's data folder, or a private temporary folder without a data dir)::

    git --git-dir=<shadow> --work-tree=<cwd> add -A     # the files as they are now
    git --git-dir=<shadow> write-tree                    # -> a tree id: the snapshot

so it sees edits made through the CLI's edit tools and through shell commands alike,
takes tracked and untracked files, and honours the folder's ``.gitignore`` files (and the
user's global excludes). Nothing is written into the user's own ``.git``: a ``.git``
inside the folder is never part of a snapshot. Each turn's two trees are kept under
``refs/caw/turns/<n>/before`` and ``.../after`` (n is 1-based), so git never prunes them.

The session takes a first snapshot (:meth:`ChangeTracker.baseline`) in the background as
it starts or resumes, while its backend starts: that one hashes every file. The shadow
index keeps each file's stat data, so every later snapshot (the one before each prompt,
which must be taken then since the user may have edited files meanwhile, and the one
after each turn) rehashes only the files that changed. The first snapshot's blobs go
straight into one pack (``core.bigFileThreshold=1``) instead of one loose file each: a
5,000-file folder's first snapshot is then a pack and an index, not 5,000 files. A later
snapshot that finds no entry changed (``add --verbose`` names none) is the tree last
written, without a ``write-tree``. The before-state is a :meth:`ChangeTracker.capture`:
the prompt goes out once the files are hashed and the shadow index is copied (so nothing
the CLI does next can reach the snapshot); the tree is written from that copy while the
turn runs.

A turn's :class:`~caw.models.FileChange` list comes from comparing its two trees;
:meth:`ChangeTracker.changes` gives each file's text before and after;
:meth:`ChangeTracker.revert` puts the before-state back, refusing with
:class:`~caw.errors.FilesChangedSince` (and writing nothing) when any of the turn's
files no longer holds what the turn left there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import CawError, FilesChangedSince
from .models import ChangeStatus, FileChange
from .store import atomic_write_bytes

log = logging.getLogger("caw.changes")

SHADOW_DIR = "shadow.git"
_STATUS: dict[str, ChangeStatus] = {"A": "added", "M": "modified", "T": "modified", "D": "deleted"}
# A git setting that would run code or change bytes on the way in is switched off.
_SETTINGS = (
    "core.autocrlf=false", "core.safecrlf=false", "core.fsmonitor=false", "core.quotepath=off",
    "gc.auto=0", "maintenance.auto=false", "core.hooksPath=/dev/null", "core.symlinks=true",
)  # fmt: skip
# For the first `add` (no shadow index yet: every file is new): every blob goes into one
# pack (git's bulk check-in for "big" files), not into a loose object file each. Later ones
# store the few changed files loose, so packs do not pile up turn after turn.
_FIRST_ADD_SETTINGS = ("core.bigFileThreshold=1",)
_SYMLINK, _GITLINK = "120000", "160000"
_BASELINE_REF = "refs/caw/baseline"
# A folder larger than this is not snapshotted (a chat opened in a home folder would copy
# gigabytes into the data dir): the session's turns then say so in their warnings.
MAX_FILES = 50_000
MAX_BYTES = 512 * 1024 * 1024


class ChangesUnavailable(CawError, RuntimeError):
    """git is missing, or the shadow repository could not be written."""

    kind = "backendFailed"


@dataclass
class ChangedFile:
    """One file a turn changed, with its text before and after (None: absent, or binary)."""

    path: str
    status: ChangeStatus
    before: str | None
    after: str | None
    binary: bool = False


@dataclass
class _Entry:
    mode: str
    blob: str


def git_available() -> bool:
    return shutil.which("git") is not None


class ChangeTracker:
    """One session's shadow repository over its working directory."""

    def __init__(self, git_dir: Path, work_tree: Path, *, temporary: bool = False):
        self.git_dir = git_dir
        self.work_tree = work_tree
        self._temporary = temporary
        self._ready = False
        self._too_large: str | None = None  # why the folder is not snapshotted, once measured
        self._measured = False
        self._lock = asyncio.Lock()  # one git command sequence at a time (they share an index)
        # The tree of the shadow index as it is: while `add` changes no entry, the next
        # snapshot is that same tree (no write-tree). None: unknown, write it. _generation
        # counts the index's changes, so that a tree written from a frozen copy of it
        # (capture) is known to be the index's own only if nothing changed since.
        self._tree: str | None = None
        self._generation = 0
        self._frozen = itertools.count(1)
        # The tree being written from a frozen index, and that index's generation: a capture
        # that finds nothing changed since shares it instead of writing the same tree again.
        self._pending: tuple[int, asyncio.Future[str]] | None = None

    @classmethod
    def for_session(cls, session_dir: Path | None, cwd: str | os.PathLike[str]) -> ChangeTracker:
        """The tracker of a session whose folder is ``session_dir`` (None: no data dir, so a
        private temporary folder that :meth:`close` removes)."""
        if not git_available():
            raise ChangesUnavailable(
                "change tracking needs git, which was not found on PATH: install git or start"
                " the session without trackChanges"
            )
        work_tree = Path(cwd).resolve()
        if session_dir is not None:
            return cls(session_dir / SHADOW_DIR, work_tree)
        return cls(Path(tempfile.mkdtemp(prefix="caw-shadow-")), work_tree, temporary=True)

    # --- git ----------------------------------------------------------------------------

    def _env(self, work_tree: bool, index: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_DIR=str(self.git_dir),
            GIT_LITERAL_PATHSPECS="1",
            GIT_TERMINAL_PROMPT="0",
            GIT_CONFIG_NOSYSTEM="1",
        )
        if work_tree:
            env["GIT_WORK_TREE"] = str(self.work_tree)
        if index is not None:
            env["GIT_INDEX_FILE"] = str(index)
        return env

    async def _git(
        self,
        *args: str,
        work_tree: bool = True,
        settings: tuple[str, ...] = (),
        stdin: bytes = b"",
        index: Path | None = None,
    ) -> bytes:
        command = ["git"]
        for setting in _SETTINGS + settings:
            command += ["-c", setting]
        proc = await asyncio.create_subprocess_exec(
            *command,
            *args,
            cwd=self.work_tree,
            env=self._env(work_tree, index),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await proc.communicate(stdin or None)
        except BaseException:  # cancelled (a session that ends during its baseline): no orphan
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            # A killed `add` leaves its index locked; only this tracker writes it.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{index or self.git_dir / 'index'}.lock")
            if index is None:
                self._index_changed()
            raise
        if proc.returncode != 0:
            message = err.decode("utf-8", "replace").strip().splitlines()
            raise ChangesUnavailable(
                f"git {args[0]} failed in the session's shadow repository:"
                f" {message[-1] if message else f'exit {proc.returncode}'}"
            )
        return out

    async def _ensure(self) -> None:
        if self._ready:
            return
        if not (self.git_dir / "HEAD").exists():
            self.git_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.git_dir, 0o700)  # owner-only, like the rest of the session's folder
            await self._git("init", "--quiet", "--bare", work_tree=False)
        for stale in self.git_dir.glob("index.frozen-*"):  # left by a process that died
            stale.unlink(missing_ok=True)
        self._ready = True

    def _index_changed(self) -> None:
        self._generation += 1
        self._tree = None

    # --- snapshots ----------------------------------------------------------------------

    async def baseline(self) -> str:
        """The session's first snapshot, taken as it starts (kept as ``refs/caw/baseline``):
        it hashes every file, so the capture before the first prompt only rehashes what
        changed since."""
        # shielded: a session ended now stops the hashing, not a tree a send may share
        tree = await asyncio.shield(await self.capture())
        async with self._lock:
            await self._git("update-ref", _BASELINE_REF, tree)
        return tree

    async def capture(self) -> asyncio.Future[str]:
        """Hold the folder's files as they are now: when this returns, every file is hashed
        into the shadow repository and the index listing them is frozen (a copy), so what
        happens to the folder next cannot change the snapshot. The future gives its tree
        id, written from the frozen index off the caller's path (a prompt need not wait for
        it). ChangesUnavailable as :meth:`snapshot`."""
        async with self._lock:
            changed = await self._add()
            if not changed and self._tree is not None:
                return _resolved(self._tree)
            if not changed and self._pending is not None and self._pending[0] == self._generation:
                return self._pending[1]
            frozen = self.git_dir / f"index.frozen-{os.getpid()}-{next(self._frozen)}"
            try:
                await asyncio.to_thread(shutil.copyfile, self.git_dir / "index", frozen)
            except FileNotFoundError:  # no index: nothing to list yet (an empty folder)
                self._tree = (await self._git("write-tree")).decode().strip()
                return _resolved(self._tree)
            except OSError as exc:
                raise ChangesUnavailable(f"the shadow index could not be copied: {exc}") from exc
            writing = asyncio.ensure_future(self._write_frozen(frozen, self._generation))
            # Its error is its awaiters' (a session ended meanwhile has none): not logged.
            writing.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._pending = (self._generation, writing)
            return writing

    async def _write_frozen(self, frozen: Path, generation: int) -> str:
        try:  # no lock: it reads its own copy of the index; git writes objects safely
            tree = (await self._git("write-tree", index=frozen)).decode().strip()
        except BaseException:
            if self._pending is not None and self._pending[1] is asyncio.current_task():
                self._pending = None  # not shared: the next capture tries again
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(frozen)
        if generation == self._generation and self._tree is None:
            self._tree = tree  # the index did not change since: this is its tree
        return tree

    async def snapshot(self) -> str:
        """The folder's files as they are now, as a tree id. ChangesUnavailable for a folder
        over :data:`MAX_FILES` files or :data:`MAX_BYTES` bytes (measured once, before the
        first snapshot: listing is cheap, hashing and storing are not)."""
        async with self._lock:
            await self._add()
            if self._tree is None:
                self._tree = (await self._git("write-tree")).decode().strip()
            return self._tree

    async def _add(self) -> bool:
        """Bring the shadow index up to the folder (under the lock); whether it changed."""
        await self._ensure()
        if not self._measured:
            listed = await self._git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
            self._too_large = await asyncio.to_thread(self._size_verdict, listed)
            self._measured = True
        if self._too_large is not None:
            raise ChangesUnavailable(self._too_large)
        try:
            # --verbose names each entry added or removed: none, and the index is unchanged.
            added = await self._git(
                "add", "--all", "--verbose", "--ignore-errors", "--", ".",
                settings=() if (self.git_dir / "index").exists() else _FIRST_ADD_SETTINGS,
            )  # fmt: skip
        except ChangesUnavailable:
            self._index_changed()
            raise
        if added.strip():
            self._index_changed()
            return True
        return False

    def _size_verdict(self, listed: bytes) -> str | None:
        paths = [p for p in listed.split(b"\0") if p]
        if len(paths) > MAX_FILES:
            return (
                f"the folder has over {MAX_FILES} files that are not ignored: too many to snapshot"
            )
        total = 0
        for path in paths:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(os.fsencode(self.work_tree), path)).st_size
            if total > MAX_BYTES:
                return (
                    f"the folder's files that are not ignored hold over {MAX_BYTES >> 20} MiB:"
                    " too much to snapshot"
                )
        return None

    async def record(self, turn: int, before: str, after: str) -> list[FileChange]:
        """Keep turn ``turn``'s two trees; what changed between them."""
        refs = f"update {_ref(turn, 'before')} {before}\nupdate {_ref(turn, 'after')} {after}\n"
        async with self._lock:
            await self._git("update-ref", "--stdin", stdin=refs.encode())
            return [] if before == after else await self._diff(before, after)

    async def _diff(self, before: str, after: str) -> list[FileChange]:
        out = await self._git(
            "diff-tree", "-r", "-z", "--no-renames", "--name-status", before, after
        )
        fields = out.decode("utf-8", "surrogateescape").split("\0")
        changes = []
        for status, path in zip(fields[0::2], fields[1::2], strict=False):
            if status[:1] in _STATUS:
                changes.append(FileChange(path=path, status=_STATUS[status[:1]]))
        return changes

    async def _trees(self, turn: int) -> tuple[str, str]:
        try:
            return (
                (await self._git("rev-parse", "--verify", "--quiet", _ref(turn, "before"))).decode().strip(),
                (await self._git("rev-parse", "--verify", "--quiet", _ref(turn, "after"))).decode().strip(),
            )  # fmt: skip
        except ChangesUnavailable:
            raise ValueError(
                f"turn {turn} has no recorded snapshots (no such turn, or change tracking was"
                " off when it ran)"
            ) from None

    async def _entries(self, tree: str, paths: list[str]) -> dict[str, _Entry]:
        if not paths:
            return {}
        out = await self._git("ls-tree", "-r", "-z", "--full-tree", tree, "--", *paths)
        entries = {}
        for record in out.decode("utf-8", "surrogateescape").split("\0"):
            if "\t" in record:
                meta, path = record.split("\t", 1)
                mode, _kind, blob = meta.split()
                entries[path] = _Entry(mode, blob)
        return entries

    async def _blob(self, blob: str) -> bytes:
        return await self._git("cat-file", "blob", blob)

    # --- review -------------------------------------------------------------------------

    async def changes(self, turn: int) -> list[ChangedFile]:
        """Each file turn ``turn`` changed, with its text before and after."""
        async with self._lock:
            await self._ensure()
            before, after = await self._trees(turn)
            changed = await self._diff(before, after)
            paths = [c.path for c in changed]
            old, new = await self._entries(before, paths), await self._entries(after, paths)
            files = []
            for change in changed:
                was, was_binary = await self._text(old.get(change.path))
                now, now_binary = await self._text(new.get(change.path))
                binary = was_binary or now_binary
                files.append(
                    ChangedFile(
                        path=change.path,
                        status=change.status,
                        before=None if binary else was,
                        after=None if binary else now,
                        binary=binary,
                    )
                )
            return files

    async def _text(self, entry: _Entry | None) -> tuple[str | None, bool]:
        """A blob's text, and whether it is binary (a NUL byte, or not UTF-8)."""
        if entry is None or entry.mode == _GITLINK:
            return None, False
        data = await self._blob(entry.blob)
        if b"\0" in data[:8000]:
            return None, True
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            return None, True

    # --- revert -------------------------------------------------------------------------

    async def revert(self, turn: int) -> list[str]:
        """Put turn ``turn``'s files back as they were before it; the paths restored.

        FilesChangedSince (nothing written) when a file no longer holds the turn's
        after-state: it changed again since, by a later turn or by hand."""
        async with self._lock:
            await self._ensure()
            before, after = await self._trees(turn)
            changed = await self._diff(before, after)
            paths = [c.path for c in changed]
            old, new = await self._entries(before, paths), await self._entries(after, paths)
            moved = [p for p in paths if not await self._holds(p, new.get(p))]
            if moved:
                raise FilesChangedSince(
                    f"not reverted: {len(moved)} of turn {turn}'s files changed since the turn"
                    f" ({', '.join(moved[:5])}{', ...' if len(moved) > 5 else ''})",
                    files=moved,
                )
            restored = []
            for path in paths:
                entry = old.get(path)
                if entry is not None and entry.mode == _GITLINK:
                    continue
                await self._restore(path, entry)
                restored.append(path)
            return restored

    async def _holds(self, path: str, entry: _Entry | None) -> bool:
        """Whether the file on disk is what ``entry`` says (None: absent)."""
        if entry is not None and entry.mode == _GITLINK:
            return True
        data = await self._blob(entry.blob) if entry is not None else None
        return file_holds(self.work_tree / path, entry.mode if entry else None, data)

    async def _restore(self, path: str, entry: _Entry | None) -> None:
        data = await self._blob(entry.blob) if entry is not None else None
        restore_file(self.work_tree / path, entry.mode if entry else None, data)

    # --- lifecycle ----------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop a tree still being written from a frozen index (its git process killed):
        the session is ending, and no turn waits for it."""
        if self._pending is not None and not self._pending[1].done():
            self._pending[1].cancel()
            await asyncio.wait({self._pending[1]})

    def close(self) -> None:
        """Remove a temporary shadow repository (a data dir's stays with its session)."""
        if self._temporary:
            shutil.rmtree(self.git_dir, ignore_errors=True)


def _resolved(tree: str) -> asyncio.Future[str]:
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    done.set_result(tree)
    return done


def _ref(turn: int, side: str) -> str:
    if turn < 1:
        raise ValueError(f"turn must be 1 or more (turns are numbered from 1), not {turn}")
    return f"refs/caw/turns/{turn}/{side}"


def file_holds(target: Path, mode: str | None, data: bytes | None) -> bool:
    """Whether ``target`` holds ``data`` (a symbolic link's target for mode 120000; None:
    the file is absent)."""
    if mode is None or data is None:
        return not os.path.lexists(target)
    try:
        if mode == _SYMLINK:
            return target.is_symlink() and os.fsencode(os.readlink(target)) == data
        return not target.is_symlink() and target.read_bytes() == data
    except OSError:
        return False


def restore_file(target: Path, mode: str | None, data: bytes | None) -> None:
    """Make ``target`` hold ``data`` with ``mode`` (None: remove it)."""
    if mode is None or data is None:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == _SYMLINK:
        tmp = target.parent / f".{target.name}.caw-revert"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(os.fsdecode(data), tmp)
        os.replace(tmp, target)
        return
    atomic_write_bytes(target, data, 0o755 if mode == "100755" else 0o644)
