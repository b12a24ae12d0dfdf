"""Pre-paying an app-server's first thread written to disk, before a person's first turn.

codex writes nothing of a new thread until its first user message ("not materialized yet";
``thread/turns/list`` is refused until then). That first turn's first write
(``codex_core::session`` ``persist_rollout_items`` -> ``codex_thread_store`` ``live_writer``
``append_items``: the rollout file under ``$CODEX_HOME/sessions/Y/M/D``, the thread's rows in
``thread_history_1.sqlite``) costs 10-15 ms busy in a fresh app-server, against ~1 ms later
(``RUST_LOG=trace``, codex 0.169.0); a new thread in an app-server that already wrote one
pays ~4 ms more than a warm turn. caw-server's new chat runs on a fresh app-server (a session
that ends retires its server), so its first answer paid it all. No read-only request does it
(``thread/read``, ``thread/goal/get`` ...), and only a user message or a shell command
makes a thread real.

So the first standby of an app-server first runs ``true`` in a throwaway thread
(``thread/shellCommand``: no model request) and deletes that thread (``thread/delete``
removes its rollout file and its row in ``thread/list``). The standby's own thread is not
touched: its first model request is the one a fresh start sends (tests/e2e).

Interleaved, ``bench/codex_first_turn.py --reps 16`` (load average 5.5; warm turns 44-46 ms,
31-32 ms of it before the model request): a fresh app-server's first turn 56.8 -> 51.6 ms
(before the model request 43.0 -> 37.6 ms); a new thread on an app-server that already
wrote one: 48.0 ms. What remains (~5 ms) is writing the thread itself: nothing but its
first turn can do that. ``--library`` (caw's new chat, load 7-9, noisier): first send minus
warm send of the same session +15-16 ms without, -2 to -9 ms with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from ...errors import BackendFailed
from .app_server import AppServer

log = logging.getLogger("caw.codex")

COMMAND_TIMEOUT_MS = 10_000  # the user's login shell runs it: a slow profile must not stall
WAIT = 15.0


async def write_first_thread(server: AppServer, params: Mapping[str, Any]) -> bool:
    """Make ``server`` write (and delete) a throwaway thread, once; whether it did."""
    if server.first_write_done:
        return False
    server.first_write_done = True
    thread: str | None = None
    try:
        result = await server.peer.request("thread/start", dict(params))
        thread = ((result or {}).get("thread") or {}).get("id")
        if not isinstance(thread, str):
            return False
        completed = server.turn_completed(thread)
        await server.peer.request(
            "thread/shellCommand",
            {"threadId": thread, "command": "true", "timeoutMs": COMMAND_TIMEOUT_MS},
        )
        await asyncio.wait_for(completed, WAIT)
        return True
    except (BackendFailed, asyncio.TimeoutError) as exc:  # only slower: the next turn pays it
        log.debug("codex's first thread write ahead failed: %s", type(exc).__name__)
        return False
    finally:
        if thread is not None:
            server.forget_turn(thread)
            with contextlib.suppress(BackendFailed, asyncio.TimeoutError):
                await asyncio.wait_for(
                    server.peer.request("thread/delete", {"threadId": thread}), WAIT
                )
