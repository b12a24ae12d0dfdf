"""Finding sessions in a data dir: by id, by unique id prefix, or this directory's last one."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UnknownSession
from ..models import Trajectory
from ..store import SessionDir, Store

#: ``metadata["source"]`` of the sessions ``caw chat`` starts, so it resumes only chats.
CHAT_SOURCE = "caw chat"


def same_dir(a: str | None, b: str | os.PathLike[str]) -> bool:
    if not a:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def last_session(store: Store, cwd: str | os.PathLike[str], source: str | None = None) -> str:
    """The id of the most recently active session recorded for ``cwd`` (of ``source``, if given)."""
    for _, traj in store.iter_trajectories():
        if not traj.turns:  # never answered: nothing to continue, and no resume key
            continue
        if same_dir(traj.cwd, cwd) and (source is None or traj.metadata.get("source") == source):
            return traj.session_id
    what = "chat" if source == CHAT_SOURCE else "session"
    raise UnknownSession(f"no {what} recorded for {Path(cwd).resolve()} in {store.root}")


def find_session(store: Store, id_or_prefix: str) -> tuple[SessionDir, Trajectory]:
    """A session by its full id, or by a prefix that names exactly one session."""
    wanted = id_or_prefix.strip()
    matches = [
        (sdir, traj)
        for sdir, traj in store.iter_trajectories()
        if traj.session_id == wanted or (wanted and traj.session_id.startswith(wanted))
    ]
    exact = [m for m in matches if m[1].session_id == wanted]
    if exact:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownSession(f"no session {wanted!r} in {store.root}")
    raise UnknownSession(
        f"{wanted!r} names {len(matches)} sessions in {store.root}; give more of the id"
    )
