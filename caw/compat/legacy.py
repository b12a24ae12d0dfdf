"""caw 0.1.9's data dirs: the resume key of a session it recorded, read from its files.

0.1.9 wrote no handle file. Its ``sessions/<id>/trajectory.json`` names the provider
(``agent``); claude's resume key is the session id itself, codex's is
``metadata["thread_id"]``, opencode's ``metadata["opencode_session_id"]``.
"""

from __future__ import annotations

from ..errors import InvalidHandle, UnknownSession
from ..handle import ResumeHandle, check_id
from ..models import Trajectory
from ..providers import UnknownProvider, canonical_name
from ..store import Store

_KEY_IN_METADATA = {"codex": "thread_id", "opencode": "opencode_session_id"}


def resume_key_of(trajectory: Trajectory) -> str | None:
    """The backend's resume key as caw 0.1.9 recorded it, or None if it never had one."""
    try:
        provider = canonical_name(trajectory.agent)
    except UnknownProvider:
        return None
    if provider == "claude_code":
        # 0.1.9 recorded a session with no turns before claude ever saw its id.
        return trajectory.session_id if trajectory.turns else None
    key = trajectory.metadata.get(_KEY_IN_METADATA.get(provider, ""))
    return key if isinstance(key, str) and key else None


def legacy_handle(store: Store, session_id: str) -> ResumeHandle | None:
    """The handle of a session caw 0.1.9 recorded in ``store`` (None: not such a session).

    UnknownSession if the session is there but never reached its backend."""
    session_id = check_id(session_id, "the session id")
    if not store.has(session_id):
        return None
    sdir = store.session(session_id)
    if sdir.load_handle() is not None:
        return None  # one of ours
    trajectory = sdir.load_trajectory()
    if trajectory is None:
        return None
    key = resume_key_of(trajectory)
    if key is None:
        raise UnknownSession(
            f"session {session_id!r} in {store.root} was recorded by caw 0.1.9 without a resume "
            "key (it never finished a turn), so its conversation cannot be resumed"
        )
    try:
        return ResumeHandle(
            provider=canonical_name(trajectory.agent),
            session_id=session_id,
            resume_key=check_id(key, "the recorded resume key"),
        )
    except UnknownProvider:
        raise InvalidHandle(
            f"session {session_id!r} names an unknown provider {trajectory.agent!r}"
        ) from None
