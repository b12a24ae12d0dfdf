"""The async session core: turn assembly, ordering, cancellation, store and handle.

Everything above (the sync API, the daemon) drives sessions through this class;
everything below (the adapters) only produces events.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from .attachments import (
    EmbeddedResource,
    ResourceLink,
    attachment_ref,
    message_with_attachments,
)
from .changes import ChangedFile, ChangeTracker
from .errors import (
    BackendFailed,
    CawError,
    ModelError,
    NoHandleYet,
    PersistenceFailed,
    SessionBusy,
    SessionClosed,
    TurnCancelled,
    TurnTimeout,
)
from .events import Event
from .handle import ResumeHandle
from .logs import full_logging
from .models import AttachmentRef, Trajectory, Turn, TurnError, utcnow
from .pricing import PricingError, estimate_cost
from .providers.base import Conversation, ConversationOptions, Provider, check_option_values
from .recorder import SessionRecorder, Write
from .store import SessionDir
from .titles import title_from_message
from .turn_assembly import TurnAssembler

log = logging.getLogger("caw.session")

EventCallback = Callable[[Event], Awaitable[None] | None]

# How long a cancelled or timed-out turn may take to wind down before its backend is stopped.
INTERRUPT_GRACE = 10.0

_DONE = object()


class AsyncSession:
    """One conversation. Sends queue in order; ``cancel`` stops the running turn."""

    def __init__(
        self,
        *,
        provider: Provider,
        options: ConversationOptions,
        trajectory: Trajectory,
        session_dir: SessionDir | None,
        conversation: Conversation | None = None,
        resume_key: str | None = None,
        turn_timeout: float | None = None,
        key_unconfirmed: bool = False,
        changes: ChangeTracker | None = None,
    ):
        """``key_unconfirmed``: ``resume_key`` differs from the handle stored in ``session_dir``;
        the stored handle is replaced only once a turn proves the backend took the new key,
        so a wrong or stale handle cannot destroy the session's stored one."""
        self.provider = provider
        self.options = options
        self.trajectory = trajectory
        self._dir = session_dir
        # its writes, all but the turn's own record off the answer's path (caw.recorder)
        self._recorder = SessionRecorder(session_dir) if session_dir is not None else None
        self._conversation = conversation
        self._resume_key = resume_key
        self.turn_timeout = turn_timeout
        self._lock = asyncio.Lock()
        self._cancel_requested = False
        self._closed = False
        self._running = False
        self._key_unconfirmed = key_unconfirmed
        # Review and revert (caw.changes): the session folder's snapshots, when tracked. The
        # first one (it hashes every file) starts now, beside the backend's own start, so
        # that the first send only waits for what is left of it.
        self.change_tracker = changes
        self._baseline: asyncio.Task[None] | None = None
        if changes is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: the first send takes it
                self._baseline = asyncio.get_running_loop().create_task(self._take_baseline())
        self._backend_stale = False  # configure() changed an option the backend started with
        # what configure() changed since: a model alone may be switched live (Conversation.set_model)
        self._new_model: str | None = None
        self._restart_needed = False

    # --- identity -----------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self.trajectory.session_id

    @property
    def provider_name(self) -> str:
        return self.provider.name

    @property
    def session_dir(self) -> Path | None:
        return self._dir.path if self._dir else None

    @property
    def resume_key(self) -> str | None:
        return self._resume_key

    @property
    def resume_handle(self) -> str:
        """The self-contained handle (a credential). Exists after the first exchange."""
        if self._resume_key is None:
            raise NoHandleYet(
                "this session has no resume handle yet: send a message first (the backend assigns its key on the first exchange)"
            )
        return self.handle().encode()

    def handle(self) -> ResumeHandle:
        if self._resume_key is None:
            raise NoHandleYet("this session has no resume handle yet: send a message first")
        return ResumeHandle(
            provider=self.provider.name, session_id=self.session_id, resume_key=self._resume_key
        )

    @property
    def busy(self) -> bool:
        return self._running or self._lock.locked()

    @property
    def live(self) -> bool:
        """Whether a backend is attached right now (False after idle release or end)."""
        return self._conversation is not None and self._conversation.alive

    @property
    def closed(self) -> bool:
        return self._closed

    # --- turns -------------------------------------------------------------------

    async def send(
        self,
        message: str,
        on_event: EventCallback | None = None,
        *,
        attachments: Sequence[ResourceLink | EmbeddedResource] = (),
    ) -> Turn:
        """Run one turn and return it; ``on_event`` sees each event as it streams.

        ``attachments``: files, ranges and selections sent with the message
        (:mod:`caw.attachments`); read now, so a bad one raises InvalidAttachment before the
        turn starts. The turn records their URIs and names, not their content."""
        if not isinstance(message, str) or not message.strip():
            raise ValueError("message must be a non-empty string")
        prompt = message
        if attachments:
            prompt = await asyncio.to_thread(message_with_attachments, message, attachments)
        refs = [attachment_ref(a) for a in attachments]
        async with self._lock:
            if self._closed:
                raise SessionClosed(f"session {self.session_id} has ended")
            self._running = True
            try:
                return await self._run_turn(message, on_event, prompt, refs)
            finally:
                self._running = False

    async def open_backend(self) -> Conversation:
        """The live backend conversation: the attached one, else a new one (resumed by key if
        the session has one). Sending does this itself; call it to fail early on a missing CLI."""
        conv = self._conversation
        if conv is not None and conv.alive and not self._backend_stale:
            return conv
        live_switch = self._new_model if not self._restart_needed else None
        self._backend_stale, self._new_model, self._restart_needed = False, None, False
        if conv is not None and conv.alive and live_switch and await conv.set_model(live_switch):
            log.info("session %s: model switched on the live backend", self.session_id)
            return conv
        if conv is not None:
            await conv.close()
        if self._resume_key is not None:
            log.info("session %s: attaching a backend by resume key", self.session_id)
            conv = await self.provider.resume(self._resume_key, self.options)
        else:
            conv = await self.provider.start(self.options)
        self._conversation = conv
        return conv

    async def start_backend(self) -> None:
        """Start the backend now, under the send lock: a send that comes meanwhile waits for
        it and then finds it warm (``session/resume`` starts it ahead of the first send)."""
        async with self._lock:
            if not self._closed:
                await self.open_backend()

    async def _run_turn(
        self,
        message: str,
        on_event: EventCallback | None,
        prompt: str,
        attachments: list[AttachmentRef],
    ) -> Turn:
        conv = await self.open_backend()
        number = len(self.trajectory.turns) + 1
        turn = Turn(index=number - 1, input=message, attachments=attachments)
        assembler = TurnAssembler(turn)
        await self._settle_previous()  # the turn before is on disk before this one starts
        self._later(lambda d: d.begin_turn(number, prompt))
        self._later(lambda d: d.log({"type": "turn_start", "turn": number, "input": message}))
        self._cancel_requested = False
        if full_logging():
            log.info("session %s turn %d > %s", self.session_id, number, message)
        started = time.perf_counter()

        queue: asyncio.Queue[Any] = asyncio.Queue()

        def raw_sink(record: dict[str, Any]) -> None:
            if self._recorder is not None:
                self._recorder.append_raw(number, record)

        async def pump() -> None:
            try:
                async for event in conv.send(prompt, raw_sink):
                    queue.put_nowait(event)
            finally:
                queue.put_nowait(_DONE)

        broker = self.options.permissions
        if broker is not None and on_event is not None:
            # The CLI's questions join this turn's event stream, where on_event / stream()
            # code may answer them. Without a reader only on_permission can answer (if set;
            # else each question is rejected at once instead of waiting for nobody).
            broker.emit = queue.put_nowait
        self.options.emit = queue.put_nowait  # subagents' events join the stream (caw.tools)
        snapshot = await self._snapshot(turn)
        pumping = asyncio.ensure_future(pump())
        deadline = None if self.turn_timeout is None else time.monotonic() + self.turn_timeout
        try:
            while True:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    item = await asyncio.wait_for(queue.get(), timeout)
                except asyncio.TimeoutError:
                    await self._wind_down(conv, pumping)
                    raise TurnTimeout(
                        f"the turn produced no complete answer within {self.turn_timeout:g} s; it was stopped"
                    ) from None
                if item is _DONE:
                    break
                assembler.add(item)
                if on_event is not None:
                    outcome = on_event(item)
                    if inspect.isawaitable(outcome):
                        await outcome
            try:
                pumping.result()  # re-raises the adapter's error, if any
            except Exception as exc:
                raise await self._adapter_failed(conv, exc) from exc
        except asyncio.CancelledError:
            await asyncio.shield(self._wind_down(conv, pumping))
            turn.stop_reason = "cancelled"
            await asyncio.shield(self._note_changes(turn, number, snapshot))
            self._record_unfinished(turn, number, started, assembler)
            raise
        except BaseException as exc:
            if not pumping.done():
                await asyncio.shield(self._wind_down(conv, pumping))
            kind = getattr(exc, "kind", "internal")
            turn.stop_reason = "error"
            turn.error = TurnError(
                kind=kind if isinstance(kind, str) else "internal", message=str(exc)
            )
            record = {
                "type": "turn_error",
                "turn": number,
                "kind": turn.error.kind,
                "error": str(exc),
            }
            self._later(lambda d: d.log(record))
            if isinstance(exc, BackendFailed) and not conv.alive:
                log.warning("session %s: backend ended: %s", self.session_id, exc)
            await asyncio.shield(self._note_changes(turn, number, snapshot))
            self._record_unfinished(turn, number, started, assembler)
            raise
        finally:
            self.options.emit = None
            if broker is not None:
                broker.emit = None
                broker.cancel_pending("The turn ended before the question was answered.")
            assembler.finish()
            self._adopt_resume_key(conv, turn)
        turn.duration_ms = int((time.perf_counter() - started) * 1000)
        if self._cancel_requested:
            turn.stop_reason = "cancelled"
        self._price(turn)
        await self._note_changes(turn, number, snapshot)
        self._record(turn, number)
        log.info(
            "session %s turn %d ended (%s, %d ms)",
            self.session_id,
            number,
            turn.stop_reason,
            turn.duration_ms,
        )
        if full_logging():
            log.info("session %s turn %d < %s", self.session_id, number, turn.result)
        if self._cancel_requested:
            raise TurnCancelled(turn=turn)
        return turn

    def _record_unfinished(
        self, turn: Turn, number: int, started: float, assembler: TurnAssembler
    ) -> None:
        """A failed or cancelled turn stays in the record (status and error say how it ended),
        in order with the others, so a resumed session shows what the live one showed."""
        assembler.finish()
        turn.duration_ms = int((time.perf_counter() - started) * 1000)
        self._price(turn)
        self._record(turn, number, confirms_key=False)

    def _price(self, turn: Turn) -> None:
        """A turn whose CLI reported no cost (codex; claude's first turn after a resume) is
        priced from caw's pricing table (caw.pricing); a bad user override is logged, not
        raised: the turn's work is done. (opencode's 0 for a model it has no price for, too.)"""
        usage = turn.usage
        # A zero for a turn that used tokens is a CLI that does not know the model's price
        # (opencode reports 0 for a model outside its own table): not a free turn.
        if usage.cost_usd is not None and (usage.cost_usd > 0 or usage.total_tokens == 0):
            return
        try:
            estimate = estimate_cost(self.provider.name, self.options.model, usage)
            if estimate is not None or usage.cost_usd is None:
                usage.cost_usd = estimate
        except PricingError as exc:
            log.warning("session %s: no cost for this turn: %s", self.session_id, exc)

    async def _adapter_failed(self, conv: Conversation, exc: Exception) -> Exception:
        """The one place an adapter's failure mid-turn is judged (issue 21, finding 2).

        A :class:`ModelError` is the backend's own report at the end of its turn: the backend
        is in step and stays. Anything else may have left the rest of the turn unread in the
        backend's output, where the next send would take it for its own answer (every later
        answer one turn late). So the conversation is closed, the next send resumes the
        session by key on a fresh backend, and an error that is not already a
        :class:`BackendFailed` (an adapter bug, an odd line) becomes one."""
        if isinstance(exc, ModelError):
            return exc
        if conv.alive:
            log.warning(
                "session %s: the %s adapter failed mid-turn (%s); stopping its backend so the"
                " next send resumes in step",
                self.session_id,
                self.provider.name,
                type(exc).__name__,
            )
            try:
                await conv.close()
            except Exception as closing:  # the turn's error is the one to report
                log.warning("session %s: closing the backend: %r", self.session_id, closing)
            if self._conversation is conv:
                self._conversation = None
        # (a backend that is already gone stays attached: open_backend closes it, which also
        # releases a shared server's use)
        if isinstance(exc, BackendFailed):
            return exc
        log.debug("session %s: adapter failure", self.session_id, exc_info=exc)
        return BackendFailed(
            f"the {self.provider.name} adapter failed during the turn ({type(exc).__name__}: "
            f"{exc}); its backend was stopped and the next send resumes the session"
        )

    async def _wind_down(self, conv: Conversation, pumping: asyncio.Future[None]) -> None:
        """Interrupt the backend and let the adapter drain the turn; stop it if it won't."""
        self._reject_pending_questions()
        await conv.interrupt()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(pumping), INTERRUPT_GRACE)
        if not pumping.done():
            log.warning("session %s: the backend did not stop its turn; ending it", self.session_id)
            pumping.cancel()
            await conv.close()

    def _adopt_resume_key(self, conv: Conversation, turn: Turn) -> None:
        if conv.resume_key and conv.resume_key != self._resume_key:
            self._resume_key = conv.resume_key
            self._save_handle(turn)

    def _save_handle(self, turn: Turn) -> None:
        """handle.json now (a kill -9 after the answer still leaves it), fsynced later."""
        handle = self.handle()
        self._persist(turn, lambda d: d.save_handle(handle, fsync=False))
        self._later(lambda d: d.sync(d.path / "handle.json"))

    def _record(self, turn: Turn, number: int, *, confirms_key: bool = True) -> None:
        """The turn into the record before its answer is returned: trajectory.json (whole
        on disk once renamed: a kill -9 after the answer loses nothing of it). Its raw lines,
        log line and fsyncs follow on the writer thread, done before the next turn starts."""
        if confirms_key and self._key_unconfirmed:
            # the backend took the key: now it may replace the stored one
            self._key_unconfirmed = False
            self._save_handle(turn)
        for hook in self.options.on_turn:  # caw.tools: subagent trajectories onto their blocks
            hook(turn)
        self.trajectory.turns.append(turn)
        if self.trajectory.session_title is None:  # named once, from the first exchange
            given = self.trajectory.metadata.get("title")
            self.trajectory.session_title = (
                given
                if isinstance(given, str) and given.strip()
                else title_from_message(turn.input)
            ) or None
        self._persist(turn, lambda d: self.save_record())
        end = {
            "type": "turn_end",
            "turn": number,
            "stopReason": turn.stop_reason,
            "result": turn.result,
            "usage": turn.usage.to_wire(),
        }
        self._later(lambda d: d.log(end))

    def _persist(self, turn: Turn, write: Write) -> None:
        """Run a store write now; a failure becomes a warning on the turn, never a lost answer."""
        if self._dir is None:
            return
        try:
            write(self._dir)
        except PersistenceFailed as exc:
            self._warn(turn, [str(exc)])

    def _warn(self, turn: Turn, failures: list[str]) -> None:
        for failure in failures:
            if failure not in turn.warnings:
                log.warning("session %s: %s", self.session_id, failure)
                turn.warnings.append(failure)

    def _later(self, write: Write) -> None:
        """Queue a store write on the writer thread (caw.recorder); its failure is reported
        by the next :meth:`_settle_previous`."""
        if self._recorder is not None:
            self._recorder.later(write)

    async def _settle_previous(self) -> None:
        """Wait for the queued writes (the last turn's raw lines, log line and fsyncs); a
        failure among them becomes a warning on that turn, on disk with the next save."""
        if self._recorder is None:
            return
        failures = await self._recorder.settle()
        if failures and self.trajectory.turns:
            self._warn(self.trajectory.turns[-1], failures)
            self._recorder.turn_changed(len(self.trajectory.turns) - 1)
        else:
            self._log_failures(failures)

    async def flush(self) -> None:
        """Wait until everything recorded so far is on disk, fsynced (a turn's log line and
        fsyncs follow its answer; the next send and :meth:`end` wait for them anyway)."""
        if self._recorder is not None:
            self._log_failures(await self._recorder.settle())

    def _log_failures(self, failures: list[str]) -> None:
        for failure in failures:
            log.warning("session %s: %s", self.session_id, failure)

    def save_record(self) -> None:
        """trajectory.json as the session stands (PersistenceFailed if it cannot be written);
        its fsync follows on the writer thread."""
        if self._recorder is not None:
            self._recorder.save_trajectory(self.trajectory)

    def rename(self, title: str) -> None:
        """Give the session a new title (kept in its data dir folder)."""
        self.trajectory.session_title = " ".join(title.split())
        if self._recorder is not None:
            self._recorder.settle_now()
            self.save_record()

    # --- review and revert (caw.changes) -------------------------------------------------

    async def _take_baseline(self) -> None:
        assert self.change_tracker is not None
        try:
            await self.change_tracker.baseline()
        except Exception as exc:  # the first send's own snapshot fails too and says why
            log.info("session %s: no baseline snapshot: %s", self.session_id, exc)

    async def changes_baseline(self) -> None:
        """Wait until the snapshot taken as the session started is done (if any)."""
        if self._baseline is not None:
            await asyncio.wait({self._baseline})  # a cancelled waiter leaves it running

    async def stop_change_tracking(self) -> None:
        """Stop the baseline snapshot if it still runs and remove a temporary shadow
        repository (a session whose start failed; end() does this too)."""
        if self._baseline is not None and not self._baseline.done():
            self._baseline.cancel()
            await asyncio.wait({self._baseline})
        if self.change_tracker is not None:
            await self.change_tracker.stop()
            self.change_tracker.close()

    async def _snapshot(self, turn: Turn) -> asyncio.Future[str] | None:
        """The session folder's files, held before the prompt goes out; their tree id comes
        later (None: not tracked, or the snapshot failed, which the turn notes as a warning).
        Always taken now, not reused from the previous turn's after-state: the user may have
        edited files since. It waits for the baseline's hashing (the tracker's lock)."""
        if self.change_tracker is None:
            return None
        try:
            return await self.change_tracker.capture()
        except CawError as exc:
            turn.warnings.append(f"changes are not tracked for this turn: {exc}")
            return None

    async def _note_changes(
        self, turn: Turn, number: int, before: asyncio.Future[str] | None
    ) -> None:
        """The files the turn changed, by comparing the folder with its snapshot ``before``."""
        if self.change_tracker is None or before is None:
            return
        try:
            before_tree = await before
            after = await self.change_tracker.snapshot()
            turn.changes = await self.change_tracker.record(number, before_tree, after)
        except CawError as exc:
            turn.warnings.append(f"changes are not tracked for this turn: {exc}")

    def _tracker(self, turn: int) -> ChangeTracker:
        if self.change_tracker is None:
            raise ValueError(
                "this session does not track changes: start or resume it with track_changes"
                " (trackChanges)"
            )
        if not 1 <= turn <= len(self.trajectory.turns):
            raise ValueError(
                f"turn {turn} is not one of this session's turns (1 to"
                f" {len(self.trajectory.turns)}; turns are numbered from 1)"
            )
        return self.change_tracker

    async def changes(self, turn: int) -> list[ChangedFile]:
        """Each file turn ``turn`` (1-based) changed, with its text before and after."""
        return await self._tracker(turn).changes(turn)

    async def revert(self, turn: int) -> list[str]:
        """Put the files turn ``turn`` (1-based) changed back as they were before it; the
        paths restored. FilesChangedSince, and nothing written, when one of them changed
        again since the turn; SessionBusy while a turn runs."""
        tracker = self._tracker(turn)
        if self.busy:
            raise SessionBusy(f"session {self.session_id} is running a turn: revert after it")
        return await tracker.revert(turn)

    def configure(self, *, model: str | None = None, reasoning: str | None = None) -> None:
        """Use ``model`` / ``reasoning`` from the next turn on (None: unchanged). Before that
        turn the live backend switches its model where the CLI can (claude); otherwise it is
        restarted by resume with the new options."""
        check_option_values(model=model, reasoning=reasoning)
        if model is not None:
            self.options.model = self.trajectory.model = model
            self._new_model = model
        if reasoning is not None:
            self.options.reasoning = self.trajectory.reasoning = reasoning
            self._restart_needed = True
        if model is not None or reasoning is not None:
            self._backend_stale = True
            if self._recorder is not None:
                self._recorder.settle_now()
                self.save_record()

    async def cancel(self) -> bool:
        """Stop the running turn (its ``send`` raises TurnCancelled). False if none runs."""
        if not self._running or self._conversation is None:
            return False
        self._cancel_requested = True
        self._reject_pending_questions()
        await self._conversation.interrupt()
        return True

    def _reject_pending_questions(self) -> None:
        """A stopped turn's open permission questions are rejected: nothing runs unanswered."""
        if self.options.permissions is not None:
            self.options.permissions.cancel_pending()

    # --- lifecycle ---------------------------------------------------------------

    async def release_backend(self) -> None:
        """Stop the backend but keep the session; the next send resumes it by key."""
        async with self._lock:
            if self._conversation is not None and self._resume_key is not None:
                await self._conversation.close()
                self._conversation = None

    async def end(self) -> Trajectory:
        """End the session and its backend; returns the trajectory. Idempotent."""
        if self._running:
            await self.cancel()
        async with self._lock:
            if not self._closed:
                self._closed = True
                if self._conversation is not None:
                    await self._conversation.close()
                    self._conversation = None
                await self.options.release()  # the session's tool server (caw.tools)
                await self.stop_change_tracking()  # a temporary shadow repository goes
                self.trajectory.completed_at = utcnow()
                if self._dir is not None:
                    try:
                        await self.flush()
                        self._dir.save_trajectory(self.trajectory)
                        self._dir.log({"type": "session_end"})
                    except CawError as exc:
                        log.warning("session %s: %s", self.session_id, exc)
                    self._dir.unlock()  # another process may resume it now
        return self.trajectory

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.end()

    def __repr__(self) -> str:
        return f"<AsyncSession {self.session_id} provider={self.provider.name} turns={self.trajectory.num_turns}>"
