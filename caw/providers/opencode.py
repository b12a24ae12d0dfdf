"""opencode: one shared ``opencode serve`` per directory and environment, HTTP + SSE.

A serve process is started on 127.0.0.1 with a fresh random
``OPENCODE_SERVER_PASSWORD`` (every route then needs HTTP basic auth), shared by
all conversations with the same working directory, CLI and environment, and
stopped when its last conversation closes. Each serve has one ``GET /event``
SSE stream; its events are dispatched to conversations by ``sessionID``.

A turn is one blocking ``POST /session/{id}/message`` carrying a ``messageID``
we choose: the POST returning is the authoritative end of the turn (one per
prompt, even when prompts queue up, unlike ``session.idle``), and its body is
the final assistant message, used to fill in anything the event stream missed.
Live deltas come from the SSE stream, filtered to the assistant messages whose
``parentID`` is our message id.

When serve cannot start (or with ``CAW_OPENCODE_MODE=run``) conversations fall
back to one ``opencode run --format json`` process per turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import socket
import string
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import BackendFailed, InvalidHandle, UsageLimitReached
from ..events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from ..models import Usage
from .base import Conversation, ConversationOptions, PermissionMode, Provider, RawSink, model_error
from .process import ChildProcess
from .sse import iter_json

log = logging.getLogger("caw.opencode")

KEY_RE = re.compile(
    r"ses_[A-Za-z0-9]+"
)  # used with fullmatch: "$" would let a trailing newline through


class _HideSessionIds(logging.Filter):
    """httpx logs each request's URL at INFO, and ours carry the session id, a resume key."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "ses_" in record.getMessage():
            record.msg, record.args = KEY_RE.sub("ses_<hidden>", record.getMessage()), None
        return True


logging.getLogger("httpx").addFilter(_HideSessionIds())
USERNAME = "opencode"
START_TIMEOUT = 60.0  # serve usually listens after 1.3-2.9 s; a loaded machine can be much slower
REQUEST_TIMEOUT = 30.0
# The POST answer and the SSE stream travel on different connections; after the
# POST returns, wait this long for the stream to deliver the turn's last events.
CATCH_UP = 2.0
SERVE_RETRY = 300.0  # after serve failed to start, use run for this long before trying serve again
MODE_ENV = "CAW_OPENCODE_MODE"  # auto (default) | serve | run
START_TIMEOUT_ENV = "CAW_OPENCODE_START_TIMEOUT"

DENY_MESSAGE = "Denied: this caw session runs with permission_mode='deny', so tools that need approval are refused."
# Tools that only read stay usable in deny mode (as with claude's default permissions).
READ_ONLY_TOOLS = ("read", "glob", "grep", "list", "todoread", "todowrite")
REASONING_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

_GONE = object()  # the serve's event stream ended for good
_POST_DONE = object()  # the turn's POST has its answer


# --- small helpers ---------------------------------------------------------------------------

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_last_ms = 0
_counter = 0


def new_id(prefix: str) -> str:
    """An id in opencode's own ascending format (time-ordered hex, then random base62)."""
    global _last_ms, _counter
    now = int(time.time() * 1000)
    if now != _last_ms:
        _last_ms, _counter = now, 0
    _counter += 1
    stamp = (now * 0x1000 + _counter) % (1 << 48)
    return f"{prefix}_{stamp:012x}" + "".join(secrets.choice(_BASE62) for _ in range(14))


def permission_rules(mode: PermissionMode) -> list[dict[str, str]]:
    """Session permission rules (the last matching rule wins in opencode)."""
    if mode == "bypass":
        return [{"permission": "*", "pattern": "*", "action": "allow"}]
    # "ask" (not "deny"): the tool stays offered and each call is refused with a reason the model sees.
    return [{"permission": "*", "pattern": "*", "action": "ask"}] + [
        {"permission": tool, "pattern": "*", "action": "allow"} for tool in READ_ONLY_TOOLS
    ]


def closest_variant(requested: str, variants: list[str]) -> str | None:
    """The model's variant nearest to the requested reasoning level (ties go to the lower one)."""
    if requested in variants:
        return requested
    if requested not in REASONING_LEVELS:
        return requested  # a provider-specific name: opencode ignores unknown variants
    ranked = [v for v in variants if v in REASONING_LEVELS]
    if not ranked:
        return None
    want = REASONING_LEVELS.index(requested)
    return min(
        ranked, key=lambda v: (abs(REASONING_LEVELS.index(v) - want), REASONING_LEVELS.index(v))
    )


def usage_of(tokens: Mapping[str, Any] | None, cost: Any = None) -> Usage:
    tokens = tokens or {}
    cache = tokens.get("cache") or {}
    return Usage(
        input_tokens=int(tokens.get("input") or 0),
        # opencode counts reasoning apart; the APIs bill it as output
        output_tokens=int(tokens.get("output") or 0) + int(tokens.get("reasoning") or 0),
        cache_read_tokens=int(cache.get("read") or 0),
        cache_write_tokens=int(cache.get("write") or 0),
        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
    )


def error_of(error: Mapping[str, Any]) -> BackendFailed:
    """The caw error for an opencode message/session ``error`` object."""
    name = str(error.get("name") or "Error")
    data = error.get("data") or {}
    message = str(data.get("message") or name)
    status = data.get("statusCode")
    if name == "APIError":
        return model_error(
            f"opencode reported a model API error{f' (HTTP {status})' if status else ''}: {message}"
        )
    if name in ("ProviderAuthError", "MessageOutputLengthError", "ContextOverflowError"):
        return model_error(f"opencode reported {name}: {message}")
    return BackendFailed(f"opencode reported {name}: {message}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _float_env(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name) or default)
    except ValueError:
        return default


# --- the shared serve process ----------------------------------------------------------------


class ServeProcess:
    """One ``opencode serve``: its process, an authenticated HTTP client, the event stream."""

    def __init__(self, key: tuple[Any, ...], process: ChildProcess, base_url: str, password: str):
        self.key = key
        self.process = process
        self.base_url = base_url
        self.client = httpx.AsyncClient(
            base_url=base_url,
            auth=(USERNAME, password),
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=5.0),
            trust_env=False,  # a proxy from the environment must never see the password
        )
        self.refs = 0
        # opencode session -> the conversations attached to it (usually one; a key resumed twice gives two)
        self.listeners: dict[str, set[ServeConversation]] = {}
        self._children: dict[str, str] = {}  # subagent session -> the conversation's session
        self._connected = asyncio.Event()
        self._events_error: str | None = None
        self._events_task: asyncio.Task[None] | None = None
        self._stdout_task: asyncio.Task[None] | None = None
        self._providers: dict[str, Any] | None = None
        self._config: dict[str, Any] | None = None
        self.closed = False
        self._stopped = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return not self.closed and self.process.alive

    def attach(self, session: str, conversation: ServeConversation) -> None:
        self.listeners.setdefault(session, set()).add(conversation)
        self.process.hide(session)

    def detach(self, session: str, conversation: ServeConversation) -> None:
        attached = self.listeners.get(session, set())
        attached.discard(conversation)
        if not attached:
            self.listeners.pop(session, None)

    @classmethod
    async def launch(
        cls, key: tuple[Any, ...], cli: str, cwd: str, env: Mapping[str, str], timeout: float
    ) -> ServeProcess:
        password = secrets.token_urlsafe(32)
        port = _free_port()
        child_env = {
            **env,
            "OPENCODE_SERVER_PASSWORD": password,
            "OPENCODE_SERVER_USERNAME": USERNAME,
        }
        argv = [cli, "serve", "--hostname", "127.0.0.1", "--port", str(port)]
        process = await ChildProcess.spawn(
            argv, name="opencode serve", env=child_env, cwd=cwd, stdin=False
        )
        serve: ServeProcess | None = None
        try:
            deadline = time.monotonic() + timeout
            base_url = await cls._wait_listening(process, port, deadline, timeout)
            serve = cls(key, process, base_url, password)
            serve._stdout_task = asyncio.ensure_future(serve._drain_stdout())
            serve._events_task = asyncio.ensure_future(serve._pump_events())
            await serve._wait_connected(deadline, timeout)
        except BaseException:
            if serve is not None:
                await serve.stop()
            else:
                await process.stop()
            raise
        log.debug("opencode serve ready (pid %s, %s)", process.pid, base_url)
        return serve

    @staticmethod
    async def _wait_listening(
        process: ChildProcess, port: int, deadline: float, timeout: float
    ) -> str:
        """Readiness: serve prints ``... listening on http://127.0.0.1:PORT`` once it accepts requests."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendFailed(f"opencode serve did not start listening within {timeout:g} s")
            try:
                line = await asyncio.wait_for(process.read_line(), remaining)
            except asyncio.TimeoutError:
                continue
            if not line:  # stdout closed: it exited before listening
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.proc.wait(), 5.0)
                await process.wait_stderr()
                raise BackendFailed(
                    f"opencode serve failed to start: {process.describe_exit()}",
                    exit_code=process.returncode,
                    stderr_tail=process.stderr_tail(),
                )
            if b"listening" in line:
                # Only a readiness signal: the password goes nowhere but the address we chose.
                return f"http://127.0.0.1:{port}"

    async def _wait_connected(self, deadline: float, timeout: float) -> None:
        """The event stream must be open before the first prompt, or its first events are lost."""
        waiter = asyncio.ensure_future(self._connected.wait())
        assert self._events_task is not None
        try:
            await asyncio.wait(
                {waiter, self._events_task},
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            waiter.cancel()
        if self._connected.is_set():
            return
        if self._events_error:
            raise BackendFailed(self._events_error)
        if not self.process.alive:
            raise await self.gone_error("before its event stream opened")
        raise BackendFailed(f"opencode serve did not open its event stream within {timeout:g} s")

    async def _drain_stdout(self) -> None:
        while True:
            line = await self.process.read_line()
            if not line:
                return
            log.debug("opencode serve: %s", line.decode("utf-8", "replace").rstrip())

    async def _pump_events(self) -> None:
        """Read ``GET /event`` and hand each event to its conversation; reconnect while serve lives.

        A drop loses the events in between; turns still end, and complete, by their POST.
        """
        try:
            while self.alive:
                try:
                    async with self.client.stream(
                        "GET", "/event", timeout=httpx.Timeout(None, connect=5.0)
                    ) as response:
                        if response.status_code != 200:
                            self._events_error = f"opencode serve refused its event stream: HTTP {response.status_code}"
                            return
                        async for event in iter_json(response):
                            self._dispatch(event)
                except httpx.HTTPError as exc:
                    log.debug("opencode event stream dropped: %s", exc)
                if self.alive:
                    await asyncio.sleep(0.2)
                    log.debug("reconnecting to the opencode event stream")
        finally:
            for attached in list(self.listeners.values()):
                for conversation in list(attached):
                    conversation._feed(_GONE)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "server.connected":
            self._connected.set()
            return
        props = event.get("properties") or {}
        if kind in ("session.created", "session.updated"):
            info = props.get("info") or {}
            parent = info.get("parentID")
            if parent and info.get("id"):
                root = parent if parent in self.listeners else self._children.get(parent)
                if root:
                    self._children[info["id"]] = root
        session = props.get("sessionID")
        if not session:
            return
        for conversation in (
            self.listeners.get(session) or self.listeners.get(self._children.get(session, "")) or ()
        ):
            conversation._feed(event)

    async def gone_error(self, when: str = "during the turn") -> BackendFailed:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.process.proc.wait(), 2.0)
        await self.process.wait_stderr()
        if self.process.alive:
            return BackendFailed(f"lost the connection to opencode serve {when}")
        return BackendFailed(
            f"opencode serve ended {when}: {self.process.describe_exit()}",
            exit_code=self.process.returncode,
            stderr_tail=self.process.stderr_tail(),
        )

    async def request(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call; a dead serve or a refused connection becomes BackendFailed.

        ``what`` names the call in errors (paths carry session ids, which stay out of messages).
        """
        if not self.alive:
            raise await self.gone_error("before the request")
        try:
            return await self.client.request(method, path, **kwargs)
        except httpx.TransportError:
            raise await self.gone_error(f"during {what}") from None

    async def json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, what, **kwargs)
        if response.status_code >= 400:
            raise self.http_error(response, what)
        return response.json() if response.content else None

    @staticmethod
    def http_error(response: httpx.Response, what: str) -> BackendFailed:
        try:
            body = response.json()
            detail = f"{body.get('name', 'error')}: {(body.get('data') or {}).get('message', '')}".rstrip(
                ": "
            )
        except ValueError:
            detail = response.text[:300]
        return BackendFailed(
            f"opencode serve answered HTTP {response.status_code} to {what}: {detail}"
        )

    async def providers(self) -> dict[str, Any]:
        if self._providers is None:
            self._providers = await self.json("GET", "/config/providers", "GET /config/providers")
        return self._providers

    async def config(self) -> dict[str, Any]:
        if self._config is None:
            self._config = await self.json("GET", "/config", "GET /config")
        return self._config

    async def stop(self) -> None:
        if self._stopped:  # aclose() and the last conversation's close may both get here
            return
        self._stopped = self.closed = True
        await self.process.stop()
        for task in (self._events_task, self._stdout_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self.client.aclose()
        log.debug("opencode serve stopped (pid %s)", self.process.pid)


# --- conversations over serve ----------------------------------------------------------------


@dataclass
class _Turn:
    """What one turn has seen so far, to filter events and never emit anything twice."""

    user_message: str
    assistant: set[str] = field(
        default_factory=set
    )  # our assistant messages (parentID == user_message)
    completed: set[str] = field(default_factory=set)
    part_kinds: dict[str, str] = field(default_factory=dict)  # partID -> "text" | "reasoning"
    emitted: dict[str, int] = field(default_factory=dict)  # partID -> characters emitted
    final_parts: set[str] = field(default_factory=set)  # text parts whose full text has arrived
    tool_calls: set[str] = field(default_factory=set)
    tool_results: set[str] = field(default_factory=set)
    steps: set[str] = field(default_factory=set)
    usage: Usage = field(default_factory=Usage)
    infos: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # our assistant messages' latest info
    last: str | None = None  # our newest assistant message
    seen_user: bool = False
    retried: bool = False  # the model request was retried since the last text we emitted
    failure: BackendFailed | None = None

    def text_event(self, kind: str, text: str) -> Event:
        """A text or thinking delta; the first after a retry voids what the broken attempt streamed."""
        replace, self.retried = self.retried, False
        return (
            ThinkingDelta(text=text, replace=replace)
            if kind == "reasoning"
            else TextDelta(text=text, replace=replace)
        )


class ServeConversation(Conversation):
    """One opencode session on a shared serve."""

    def __init__(self, provider: OpenCodeProvider, serve: ServeProcess, session: str, options: ConversationOptions,
                 model: dict[str, str] | None, variant: str | None):  # fmt: skip
        self._provider = provider
        self.serve = serve
        self.resume_key = session
        self._options = options
        self._model = model
        self._variant = variant
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._turn: _Turn | None = None
        self._interrupted = False
        self._closed = False
        serve.attach(session, self)

    @property
    def alive(self) -> bool:
        return not self._closed and self.serve.alive

    def _feed(self, event: Any) -> None:
        # Between turns nothing is queued, so a turn never sees an earlier turn's late events.
        if self._turn is not None or event is _GONE:
            self._queue.put_nowait(event)

    def _body(self, text: str, message_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"messageID": message_id, "parts": [{"type": "text", "text": text}]}
        if self._model:
            body["model"] = self._model
        if self._options.system_prompt:
            body["system"] = self._options.system_prompt  # appended to opencode's own system prompt
        if self._variant:
            body["variant"] = self._variant
        return body

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        if self._closed:
            raise BackendFailed("this opencode conversation was closed")
        if not self.serve.alive:
            raise await self.serve.gone_error("before the turn")
        turn = _Turn(user_message=new_id("msg"))
        self._interrupted = False
        self._queue = asyncio.Queue()
        self._turn = turn
        path = f"/session/{self.resume_key}/message"
        post = asyncio.ensure_future(
            self.serve.request("POST", path, "the turn's POST /session/{id}/message", json=self._body(text, turn.user_message),
                               timeout=httpx.Timeout(None, connect=5.0))
        )  # fmt: skip
        queue = self._queue
        post.add_done_callback(lambda _: queue.put_nowait(_POST_DONE))
        try:
            while True:
                item = await self._queue.get()
                if item is _POST_DONE:
                    break
                if item is _GONE:
                    continue  # the POST fails too, with the exit status
                raw(item)
                async for event in self._on_event(turn, item):
                    yield event
            response = post.result()
            if response.status_code >= 400:
                if response.status_code == 404:
                    raise BackendFailed(
                        "opencode has no session with this resume key (it was not found; deleted?)"
                    )
                raise self.serve.http_error(response, "the turn's POST /session/{id}/message")
            answer = response.json() if response.content else {}
            raw(answer)
            info = answer.get("info") or {}
            # With prompts queued on one session, every waiting POST returns the LAST prompt's answer:
            # only an answer to our message is used; otherwise the event stream alone tells our outcome.
            ours = info.get("parentID") == turn.user_message
            final = info.get("id") if ours else None
            if not ours:
                log.debug(
                    "the POST returned another prompt's answer (prompts queued on one session)"
                )

            def settled() -> bool:
                if final:
                    return final in turn.completed
                return bool(turn.assistant) and turn.assistant <= turn.completed

            # Let the event stream catch up, so deltas keep their order before the reconciliation below.
            deadline = time.monotonic() + CATCH_UP
            while not settled() and self.serve.alive:
                try:
                    item = await asyncio.wait_for(
                        self._queue.get(), max(0.0, deadline - time.monotonic())
                    )
                except asyncio.TimeoutError:
                    log.debug("the opencode event stream lags behind the turn's answer")
                    break
                if item is _GONE:
                    break
                if item is not _POST_DONE:
                    raw(item)
                    async for event in self._on_event(turn, item):
                        yield event
            if ours:
                # The answer is authoritative: emit whatever the stream did not deliver.
                await self._on_message(turn, info)
                for part in answer.get("parts") or []:
                    for event in self._on_part(turn, part):
                        yield event
            last = turn.infos[turn.last] if turn.last else {}
            if turn.failure is not None:
                raise turn.failure
            error = last.get("error")
            if error:
                if error.get("name") == "MessageAbortedError" and self._interrupted:
                    return
                raise error_of(error)
        finally:
            self._turn = None
            if not post.done():
                post.cancel()

    async def _on_event(self, turn: _Turn, event: dict[str, Any]) -> AsyncIterator[Event]:
        kind = event.get("type")
        props = event.get("properties") or {}
        if kind == "message.updated":
            await self._on_message(turn, props.get("info") or {})
        elif kind == "message.part.delta":
            part_id = props.get("partID")
            if (
                props.get("messageID") in turn.assistant
                and props.get("field") == "text"
                and part_id not in turn.final_parts
            ):
                delta = str(props.get("delta") or "")
                if delta:
                    turn.emitted[part_id] = turn.emitted.get(part_id, 0) + len(delta)
                    yield turn.text_event(turn.part_kinds.get(part_id, "text"), delta)
        elif kind == "message.part.updated":
            for out in self._on_part(turn, props.get("part") or {}):
                yield out
        elif kind == "permission.asked":
            await self._answer_permission(props)
        elif kind == "question.asked" and props.get("id"):
            # Nobody is there to answer opencode's question tool.
            with contextlib.suppress(BackendFailed):
                await self.serve.request(
                    "POST", f"/question/{props['id']}/reject", "POST /question/{id}/reject", json={}
                )
        elif kind == "session.status" and props.get("sessionID") == self.resume_key:
            status = props.get("status") or {}
            if status.get("type") == "retry":
                # opencode keeps a broken attempt's parts (emptied) and streams the retry into new ones.
                turn.retried = True
                message = str(status.get("message") or "")
                log.info(
                    "opencode retries the model request (attempt %s): %s",
                    status.get("attempt"),
                    message,
                )
                failure = model_error(message)
                if isinstance(failure, UsageLimitReached) and turn.failure is None:
                    # Retrying a usage limit only delays the same answer by minutes.
                    turn.failure = failure
                    await self._abort()
        elif kind == "session.error" and props.get("sessionID") == self.resume_key:
            # The POST's answer carries the same error on the message; this is for the log.
            name = (props.get("error") or {}).get("name")
            if name != "MessageAbortedError":
                log.debug("opencode session error: %s", name)

    async def _on_message(self, turn: _Turn, info: dict[str, Any]) -> None:
        message_id = info.get("id")
        if not message_id:
            return
        if info.get("role") == "user" and message_id == turn.user_message and not turn.seen_user:
            turn.seen_user = True
            if self._interrupted:
                await self._abort()  # the first abort may have come before opencode took the prompt
        if info.get("role") != "assistant" or info.get("parentID") != turn.user_message:
            return
        if message_id not in turn.assistant:
            turn.assistant.add(message_id)
            turn.last = message_id
            if self._interrupted:
                await self._abort()
        turn.infos[message_id] = info
        if (info.get("time") or {}).get("completed"):
            turn.completed.add(message_id)

    def _on_part(self, turn: _Turn, part: dict[str, Any]) -> list[Event]:
        if part.get("messageID") not in turn.assistant:
            return []
        kind = part.get("type")
        part_id = str(part.get("id") or "")
        out: list[Event] = []
        if kind in ("text", "reasoning"):
            if part.get("synthetic") or part.get("ignored"):
                return []
            turn.part_kinds[part_id] = kind
            text = str(part.get("text") or "")
            done = turn.emitted.get(part_id, 0)
            if len(text) > done:
                turn.emitted[part_id] = len(text)
                out.append(turn.text_event(kind, text[done:]))
            if (part.get("time") or {}).get("end"):
                turn.final_parts.add(part_id)
        elif kind == "tool":
            call = str(part.get("callID") or part_id)
            state = part.get("state") or {}
            status = state.get("status")
            if status in ("running", "completed", "error") and call not in turn.tool_calls:
                turn.tool_calls.add(call)
                out.append(
                    ToolCall(
                        id=call, name=str(part.get("tool") or ""), input=state.get("input") or {}
                    )
                )
            if status in ("completed", "error") and call not in turn.tool_results:
                turn.tool_results.add(call)
                if status == "completed":
                    out.append(ToolResult(id=call, output=str(state.get("output") or "")))
                else:
                    out.append(
                        ToolResult(
                            id=call, output=str(state.get("error") or "error"), is_error=True
                        )
                    )
        elif kind == "step-finish" and part_id not in turn.steps:
            turn.steps.add(part_id)
            turn.usage = turn.usage + usage_of(part.get("tokens"), part.get("cost"))
            out.append(UsageUpdate(usage=turn.usage.model_copy()))
        return out

    async def _answer_permission(self, props: dict[str, Any]) -> None:
        request_id = props.get("id")
        if not request_id:
            return
        if self._options.permission_mode == "bypass":
            reply: dict[str, str] = {"reply": "once"}
        else:
            reply = {"reply": "reject", "message": DENY_MESSAGE}
        log.debug(
            "answering opencode's %s permission request: %s",
            props.get("permission"),
            reply["reply"],
        )
        with contextlib.suppress(BackendFailed):
            await self.serve.request(
                "POST", f"/permission/{request_id}/reply", "POST /permission/{id}/reply", json=reply
            )

    async def _abort(self) -> None:
        with contextlib.suppress(BackendFailed):
            await self.serve.request(
                "POST", f"/session/{self.resume_key}/abort", "POST /session/{id}/abort"
            )

    async def interrupt(self) -> None:
        if self._turn is None or not self.serve.alive:
            return
        self._interrupted = True
        await self._abort()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._turn is not None and self.serve.alive:
            await self._abort()
        self.serve.detach(self.resume_key, self)
        await self._provider._release(self.serve)


# --- the per-turn fallback: opencode run -----------------------------------------------------


class RunConversation(Conversation):
    """One ``opencode run --format json [--session ID]`` process per turn (no streaming deltas)."""

    def __init__(self, cli: str, options: ConversationOptions, resume_key: str | None):
        self._cli = cli
        self._options = options
        self.resume_key = resume_key
        self._process: ChildProcess | None = None
        self._interrupted = False
        self._closed = False

    @property
    def alive(self) -> bool:
        return not self._closed

    def _argv(self) -> list[str]:
        argv = [self._cli, "run", "--format", "json", "--thinking"]
        if self.resume_key:
            argv += ["--session", self.resume_key]
        if self._options.model:
            argv += ["--model", self._options.model]
        if self._options.reasoning:
            argv += ["--variant", self._options.reasoning]
        if self._options.permission_mode == "bypass":
            argv.append("--auto")
        return argv

    def _env(self, instructions: str | None) -> dict[str, str]:
        """run has no system prompt or permission flags: both go in through inline config."""
        env = self._options.process_env()
        extra: dict[str, Any] = {}
        if instructions:
            extra["instructions"] = [instructions]
        if self._options.permission_mode == "deny":
            extra["permission"] = {"*": "ask", **dict.fromkeys(READ_ONLY_TOOLS, "allow")}
        if extra:
            try:
                config = json.loads(env.get("OPENCODE_CONFIG_CONTENT") or "{}")
            except ValueError:
                config = {}
            if not isinstance(config, dict):
                config = {}
            if "instructions" in extra:
                config["instructions"] = [
                    *(config.get("instructions") or []),
                    *extra.pop("instructions"),
                ]
            config.update(extra)
            env["OPENCODE_CONFIG_CONTENT"] = json.dumps(config)
        return env

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        if self._closed:
            raise BackendFailed("this opencode conversation was closed")
        self._interrupted = False
        with contextlib.ExitStack() as stack:
            instructions = None
            if self._options.system_prompt:
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="caw-opencode-"))
                instructions = os.path.join(folder, "system-prompt.md")
                with open(instructions, "w", encoding="utf-8") as f:
                    f.write(self._options.system_prompt)
            # The message goes in on stdin: run quotes positional words that contain spaces.
            process = await ChildProcess.spawn(
                self._argv(),
                name="opencode run",
                env=self._env(instructions),
                cwd=self._options.cwd,
            )
            self._process = process
            process.hide(self.resume_key)
            try:
                assert process.proc.stdin is not None
                try:
                    process.proc.stdin.write(text.encode("utf-8"))
                    await process.proc.stdin.drain()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                process.close_stdin()
                failure: BackendFailed | None = None
                usage = Usage()
                async for line in process.json_lines():
                    raw(line)
                    session = line.get("sessionID")
                    if isinstance(session, str) and KEY_RE.fullmatch(session):
                        self.resume_key = session
                        process.hide(session)
                    kind = line.get("type")
                    part = line.get("part") or {}
                    if kind == "text" and part.get("text") and not part.get("synthetic"):
                        yield TextDelta(text=part["text"])
                    elif kind == "reasoning" and part.get("text"):
                        yield ThinkingDelta(text=part["text"])
                    elif kind == "tool_use":
                        call = str(part.get("callID") or part.get("id") or "")
                        state = part.get("state") or {}
                        yield ToolCall(
                            id=call,
                            name=str(part.get("tool") or ""),
                            input=state.get("input") or {},
                        )
                        if state.get("status") == "error":
                            yield ToolResult(
                                id=call, output=str(state.get("error") or "error"), is_error=True
                            )
                        else:
                            yield ToolResult(id=call, output=str(state.get("output") or ""))
                    elif kind == "step_finish":
                        usage = usage + usage_of(part.get("tokens"), part.get("cost"))
                        yield UsageUpdate(usage=usage.model_copy())
                    elif kind == "error" and failure is None:
                        failure = error_of(line.get("error") or {})
                await process.proc.wait()
                await process.wait_stderr()
                if self._interrupted:
                    return
                if failure is not None:
                    raise failure
                if process.returncode != 0:
                    if "Session not found" in process.stderr_tail():
                        raise BackendFailed(
                            "opencode has no session with this resume key (Session not found)",
                            exit_code=process.returncode,
                        )
                    raise BackendFailed(
                        f"opencode run failed: {process.describe_exit()}",
                        exit_code=process.returncode,
                        stderr_tail=process.stderr_tail(),
                    )
            finally:
                self._process = None
                await process.stop()

    async def interrupt(self) -> None:
        process = self._process
        if process is not None and process.alive:
            self._interrupted = True
            await process.stop()

    async def close(self) -> None:
        self._closed = True
        await self.interrupt()


# --- the provider ----------------------------------------------------------------------------


class OpenCodeProvider(Provider):
    name = "opencode"
    cli = "opencode"
    npm_package = "opencode-ai"

    def __init__(self) -> None:
        self._serves: dict[tuple[Any, ...], ServeProcess] = {}
        self._starting: dict[tuple[Any, ...], asyncio.Lock] = {}
        self._serve_failed: dict[
            tuple[Any, ...], float
        ] = {}  # key -> when serve last failed to start

    @classmethod
    def check_resume_key(cls, key: str) -> str:
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            raise InvalidHandle(
                "an opencode resume key is an opencode session id: 'ses_' followed by letters and digits"
            )
        return key

    @staticmethod
    def _mode(env: Mapping[str, str]) -> str:
        mode = (env.get(MODE_ENV) or "auto").strip().lower()
        if mode not in ("auto", "serve", "run"):
            raise ValueError(f"{MODE_ENV} must be auto, serve or run, not {mode!r}")
        return mode

    @staticmethod
    def _key(cli: str, options: ConversationOptions, env: Mapping[str, str]) -> tuple[Any, ...]:
        # Everything the serve process inherits decides which conversations may share it
        # (tests run private HOMEs side by side in one process).
        return (cli, os.path.realpath(options.cwd), tuple(sorted(env.items())))

    async def _acquire(
        self, cli: str, options: ConversationOptions, env: Mapping[str, str], mode: str
    ) -> ServeProcess | None:
        """A running serve for these options (refcount taken), or None to fall back to run."""
        key = self._key(cli, options, env)
        failed_at = self._serve_failed.get(key)
        if mode == "auto" and failed_at is not None and time.monotonic() - failed_at < SERVE_RETRY:
            return None
        lock = self._starting.setdefault(key, asyncio.Lock())
        async with lock:
            serve = self._serves.get(key)
            if serve is not None and not serve.alive:
                del self._serves[key]
                await serve.stop()
                serve = None
            if serve is None:
                try:
                    serve = await ServeProcess.launch(
                        key,
                        cli,
                        options.cwd,
                        env,
                        _float_env(env, START_TIMEOUT_ENV, START_TIMEOUT),
                    )
                except BackendFailed as exc:
                    if mode == "serve":
                        raise
                    log.warning(
                        "opencode serve could not start, using `opencode run` per turn instead: %s",
                        exc,
                    )
                    self._serve_failed[key] = time.monotonic()
                    return None
                self._serves[key] = serve
            serve.refs += 1
            return serve

    async def _release(self, serve: ServeProcess) -> None:
        serve.refs -= 1
        if serve.refs <= 0:
            if self._serves.get(serve.key) is serve:
                del self._serves[serve.key]
            await serve.stop()

    async def _resolve_model(
        self, serve: ServeProcess, options: ConversationOptions
    ) -> tuple[dict[str, str] | None, str | None]:
        """``providerID/modelID`` (or a bare model id) checked against serve's list; reasoning as a variant."""
        wanted = options.model
        if not wanted and not options.reasoning:
            return None, None
        catalog = {
            p.get("id"): p.get("models") or {}
            for p in (await serve.providers()).get("providers") or []
        }
        if not wanted:
            wanted = (await serve.config()).get("model")
        model: dict[str, str] | None = None
        variants: list[str] = []
        if wanted:
            provider_id, _, model_id = wanted.partition("/")
            if not model_id:
                owners = [pid for pid, models in catalog.items() if wanted in models]
                provider_id, model_id = (owners[0], wanted) if len(owners) == 1 else ("", wanted)
            if model_id not in catalog.get(provider_id, {}):
                if options.model:
                    known = ", ".join(
                        f"{p}/{m}" for p, models in catalog.items() for m in list(models)[:3]
                    )
                    raise BackendFailed(
                        f"opencode has no model {options.model!r} (models are named 'providerID/modelID', e.g. {known or 'none configured'})"
                    )
            else:
                variants = list((catalog[provider_id][model_id] or {}).get("variants") or {})
                if options.model:
                    model = {"providerID": provider_id, "modelID": model_id}
        variant = None
        if options.reasoning:
            variant = closest_variant(options.reasoning, variants) if variants else None
            if variant is None:
                log.warning(
                    "opencode's model %s has no reasoning variants; reasoning=%r is not applied",
                    wanted,
                    options.reasoning,
                )
            elif variant != options.reasoning:
                log.info(
                    "reasoning=%r maps to opencode's variant %r of %s",
                    options.reasoning,
                    variant,
                    wanted,
                )
        return model, variant

    async def _serve_conversation(
        self, options: ConversationOptions, resume_key: str | None
    ) -> Conversation | None:
        env = options.process_env()
        cli = self.require_cli(env)
        mode = self._mode(env)
        if mode == "run":
            return None
        serve = await self._acquire(cli, options, env, mode)
        if serve is None:
            return None
        try:
            model, variant = await self._resolve_model(serve, options)
            rules = permission_rules(options.permission_mode)
            if resume_key is None:
                created = await serve.json(
                    "POST", "/session", "POST /session", json={"permission": rules}
                )
                session = str(created["id"])
            else:
                response = await serve.request("GET", f"/session/{resume_key}", "GET /session/{id}")
                if response.status_code == 404:
                    raise BackendFailed(
                        "opencode has no session with this resume key: it was not found (deleted, or made under another HOME?)"
                    )
                if response.status_code >= 400:
                    raise serve.http_error(response, "GET /session/{id}")
                # The session keeps the rules it was made with; this session's policy replaces them.
                await serve.json(
                    "PATCH",
                    f"/session/{resume_key}",
                    "PATCH /session/{id}",
                    json={"permission": rules},
                )
                session = resume_key
        except BaseException:
            await self._release(serve)
            raise
        return ServeConversation(self, serve, session, options, model, variant)

    async def start(self, options: ConversationOptions) -> Conversation:
        conversation = await self._serve_conversation(options, None)
        if conversation is None:
            conversation = RunConversation(self.require_cli(options.process_env()), options, None)
        return conversation

    async def resume(self, resume_key: str, options: ConversationOptions) -> Conversation:
        self.check_resume_key(resume_key)
        conversation = await self._serve_conversation(options, resume_key)
        if conversation is None:
            conversation = RunConversation(
                self.require_cli(options.process_env()), options, resume_key
            )
        return conversation

    async def aclose(self) -> None:
        serves, self._serves = list(self._serves.values()), {}
        for serve in serves:
            await serve.stop()
