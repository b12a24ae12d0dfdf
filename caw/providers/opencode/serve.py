"""opencode's server mode: one ``opencode serve`` per directory and environment, HTTP + SSE.

A serve process is started on 127.0.0.1 with a fresh random
``OPENCODE_SERVER_PASSWORD`` (every route then needs HTTP basic auth), shared by
all conversations with the same working directory, CLI and environment
(:mod:`caw.providers.pool`), and stopped when its last conversation closes. Each
serve has one ``GET /event`` SSE stream; its events are dispatched to
conversations by ``sessionID``.

A turn is one blocking ``POST /session/{id}/message`` carrying a ``messageID``
we choose: the POST returning is the authoritative end of the turn (one per
prompt, even when prompts queue up, unlike ``session.idle``), and its body is
the final assistant message, used to fill in anything the event stream missed.
Live deltas come from the SSE stream, filtered to the assistant messages whose
``parentID`` is our message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import socket
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from ...errors import BackendFailed, UsageLimitReached
from ...events import Event
from ...permissions import PermissionBroker
from ...permissions import opencode as opencode_permissions
from ...redact import RedactFilter, hide_key
from ...titles import title_from_message
from ...tools.wiring import edit_opencode_config
from ..base import (
    SHAPE_ERRORS,
    Conversation,
    ConversationOptions,
    RawSink,
    model_error,
    tolerant,
    tolerant_async,
)
from ..pool import ServerPool
from ..process import ChildProcess
from ..sse import iter_json
from .options import DENY_MESSAGE, closest_variant, new_id, serve_defaults
from .tool_shell import wrap_shell
from .translate import TurnState, error_of

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("caw.opencode")

# httpx logs each request's URL at INFO, and ours carry the session id, a resume key.
logging.getLogger("httpx").addFilter(RedactFilter())

USERNAME = "opencode"
START_TIMEOUT = 60.0  # serve usually listens after 1.3-2.9 s; a loaded machine can be much slower
REQUEST_TIMEOUT = 30.0
# The POST answer and the SSE stream travel on different connections; after the
# POST returns, wait this long for the stream to reach the answer's message (the
# answer itself fills in the rest of that message).
CATCH_UP = 2.0
NAMING_TIMEOUT = 2.0  # how long a close waits for the session's title to reach serve

_GONE = object()  # the serve's event stream ended for good
_POST_DONE = object()  # the turn's POST has its answer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServeProcess:
    """One ``opencode serve``: its process, an authenticated HTTP client, the event stream."""

    def __init__(self, process: ChildProcess, base_url: str, password: str):
        import httpx  # with the first serve, not with caw: httpx loads slowly (a cold daemon)

        self.process = process
        self.base_url = base_url
        self.client = httpx.AsyncClient(
            base_url=base_url,
            auth=(USERNAME, password),
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=5.0),
            trust_env=False,  # a proxy from the environment must never see the password
        )
        # opencode session -> the conversations attached to it (usually one; a key resumed twice gives two)
        self.listeners: dict[str, set[ServeConversation]] = {}
        self._children: dict[str, str] = {}  # subagent session -> the conversation's session
        self._connected = asyncio.Event()
        self._events_error: str | None = None
        self._events_task: asyncio.Task[None] | None = None
        self._stdout_task: asyncio.Task[None] | None = None
        self._providers: dict[str, Any] | None = None
        self._warming: asyncio.Task[None] | None = None
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

    def detach(self, session: str, conversation: ServeConversation) -> None:
        attached = self.listeners.get(session, set())
        attached.discard(conversation)
        if not attached:
            self.listeners.pop(session, None)

    @classmethod
    async def launch(
        cls, cli: str, cwd: str, env: Mapping[str, str], timeout: float
    ) -> ServeProcess:
        password = secrets.token_urlsafe(32)
        port = _free_port()
        # Tool commands run through a shell that drops the password first (tool_shell).
        wrapped = wrap_shell(env)
        child_env = {
            **edit_opencode_config(env, serve_defaults),
            **({"SHELL": wrapped[1]} if wrapped else {}),
            "OPENCODE_SERVER_PASSWORD": password,
            "OPENCODE_SERVER_USERNAME": USERNAME,
        }
        argv = [cli, "serve", "--hostname", "127.0.0.1", "--port", str(port)]
        try:
            process = await ChildProcess.spawn(
                argv, name="opencode serve", env=child_env, cwd=cwd, stdin=False
            )
        except BaseException:
            if wrapped:
                shutil.rmtree(wrapped[0], ignore_errors=True)
            raise
        if wrapped:
            process.remove_on_stop(wrapped[0])
        serve: ServeProcess | None = None
        try:
            deadline = time.monotonic() + timeout
            base_url = await cls._wait_listening(process, port, deadline, timeout)
            serve = cls(process, base_url, password)
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
        serve._warming = asyncio.ensure_future(serve._warm_up())
        return serve

    async def _warm_up(self) -> None:
        """:meth:`warm_up` in the background: nothing waits for it, a failure is harmless."""
        try:
            await self.warm_up()
        except Exception as exc:
            log.debug("opencode serve warm-up: %s", exc)

    async def warm_up(self) -> None:
        """Load, right after the start, what serve otherwise loads at its first prompt (the
        first prompt of a fresh serve took seconds longer than the next; issue 20): its
        providers and models, then its tool registry (built for the first model a prompt
        uses: 0.5-0.6 s of that first prompt, in serve's own log). What stays in the first
        prompt is opencode's own (its per-directory services, the model SDK's first
        request): bench/opencode_start.py."""
        providers = await self.providers()
        model = str((await self.config()).get("model") or "")
        provider_id, _, model_id = model.partition("/")
        if not model_id:  # no default model configured: serve's default for a provider
            provider_id, model_id = next(iter((providers.get("default") or {}).items()), ("", ""))
        if model_id:
            await self.json("GET", "/experimental/tool", "GET /experimental/tool",
                            params={"provider": provider_id, "model": model_id})  # fmt: skip

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
                raise await process.exit_error("opencode serve failed to start", wait_exit=5.0)
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
        import httpx

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
        try:
            self._route(event)
        except SHAPE_ERRORS as exc:  # an odd event must not end the event stream for everyone
            log.warning("opencode serve: skipped an event of an unexpected shape (%r)", exc)

    def _route(self, event: dict[str, Any]) -> None:
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
        error = await self.process.exit_error(f"opencode serve ended {when}")
        if self.process.alive:
            return BackendFailed(f"lost the connection to opencode serve {when}")
        return error

    async def request(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call; a dead serve or a refused connection becomes BackendFailed.

        ``what`` names the call in errors (paths carry session ids, which stay out of messages).
        """
        import httpx

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
        for task in (self._events_task, self._stdout_task, self._warming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self.client.aclose()
        log.debug("opencode serve stopped (pid %s)", self.process.pid)


class ServeConversation(Conversation):
    """One opencode session on a shared serve."""

    def __init__(self, pool: ServerPool[ServeProcess], serve: ServeProcess, session: str, options: ConversationOptions,
                 model: dict[str, str] | None, variant: str | None, *, untitled: bool = False):  # fmt: skip
        self._pool = pool
        self.serve = serve
        self.resume_key = self._session = session
        self._options = options
        self._model = model
        self._variant = variant
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._turn: TurnState | None = None
        self._interrupted = False
        self._closed = False
        # A session caw created (titled UNTITLED): caw names it after its first turn.
        self._untitled = untitled
        self._naming: asyncio.Task[None] | None = None
        hide_key(session, options.session_id)  # httpx logs it in every URL, serve in its stderr
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
        import httpx

        if self._closed:
            raise BackendFailed("this opencode conversation was closed")
        if not self.serve.alive:
            raise await self.serve.gone_error("before the turn")
        turn = TurnState(
            user_message=new_id("msg"),
            mcp_servers=tuple(server.name for server in self._options.mcp_servers),
        )
        self._interrupted = False
        self._queue = asyncio.Queue()
        self._turn = turn
        path = f"/session/{self._session}/message"
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
                for event in await tolerant_async("opencode", self._on_event(turn, item)):
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
                    # The stream has reached the answer's message, so it has delivered every earlier
                    # step (one ordered stream); the rest of this message is in the answer. Waiting
                    # for its end too cost the stream's lag behind the POST, 5-13 ms a turn (issue 20).
                    return final in turn.assistant
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
                    for event in await tolerant_async("opencode", self._on_event(turn, item)):
                        yield event
            while not self._queue.empty():  # what has arrived goes first, without waiting for more
                item = self._queue.get_nowait()
                if item is not _POST_DONE and item is not _GONE:
                    raw(item)
                    for event in await tolerant_async("opencode", self._on_event(turn, item)):
                        yield event
            if ours:
                # The answer is authoritative: emit whatever the stream did not deliver.
                await self._on_message(turn, info)
                for part in answer.get("parts") or []:
                    for event in tolerant("opencode", turn.part_events, part):
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
            self._name_session(text)

    async def _on_event(self, turn: TurnState, event: dict[str, Any]) -> AsyncIterator[Event]:
        kind = event.get("type")
        props = event.get("properties") or {}
        if kind == "message.updated":
            await self._on_message(turn, props.get("info") or {})
        elif kind == "message.part.delta":
            part_id = str(props.get("partID") or "")
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
            for out in turn.part_events(props.get("part") or {}):
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

    async def _on_message(self, turn: TurnState, info: dict[str, Any]) -> None:
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

    async def _answer_permission(self, props: dict[str, Any]) -> None:
        request_id = props.get("id")
        if not request_id:
            return
        if self._options.permission_mode == "ask":  # the session's broker decides
            broker = self._options.permissions or PermissionBroker("ask")  # nobody to ask: rejects
            decision = await broker.decide(opencode_permissions.permission_request(props))
            reply = opencode_permissions.permission_reply(decision)
        elif self._options.permission_mode == "bypass":
            reply = {"reply": "once"}
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
                "POST", f"/session/{self._session}/abort", "POST /session/{id}/abort"
            )

    async def interrupt(self) -> None:
        if self._turn is None or not self.serve.alive:
            return
        self._interrupted = True
        await self._abort()

    def _name_session(self, first_message: str) -> None:
        """After the first turn, off its answer's path: the session's title in opencode (its
        session list) becomes caw's title for it (caw.titles), in place of UNTITLED."""
        if not self._untitled:
            return
        self._untitled = False
        title = title_from_message(first_message)
        if title and self.serve.alive:
            self._naming = asyncio.ensure_future(self._set_title(title))

    async def _set_title(self, title: str) -> None:
        with contextlib.suppress(BackendFailed):  # only a name: the session works without it
            response = await self.serve.request(
                "PATCH", f"/session/{self._session}", "PATCH /session/{id}", json={"title": title}
            )
            if response.status_code >= 400:
                log.debug("opencode refused the session's title: HTTP %s", response.status_code)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._naming is not None:  # a close right after the first turn still names it
            await asyncio.wait({self._naming}, timeout=NAMING_TIMEOUT)
            self._naming.cancel()
        if self._turn is not None and self.serve.alive:
            await self._abort()
        self.serve.detach(self._session, self)
        await self._pool.release(self.serve)


async def resolve_model(
    serve: ServeProcess, options: ConversationOptions
) -> tuple[dict[str, str] | None, str | None]:
    """``providerID/modelID`` (or a bare model id) checked against serve's list; reasoning as a variant."""
    wanted = options.model
    if not wanted and not options.reasoning:
        return None, None
    catalog = {
        p.get("id"): p.get("models") or {} for p in (await serve.providers()).get("providers") or []
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


DEFAULT_AGENT = "build"  # opencode's default primary agent, unless the config names another


async def first_prompt_choice(
    serve: ServeProcess, model: dict[str, str] | None, variant: str | None
) -> dict[str, Any]:
    """The agent and model a new session's first prompt would record on it, for its creation.

    A session made without them has its first prompt look up its model (the session's,
    then its messages', then serve's default) and write agent and model to the session
    (``SessionPrompt.createUserMessage`` -> ``Session.setAgentModel``: a database write and
    a ``session.updated`` event) before the model request; later prompts find them equal and
    skip both. ``POST /session`` takes both, so the session created ahead pays that instead
    (issue 20). Interleaved, ``bench/opencode_first_prompt.py --agent-model --wait 1`` (one
    warm serve): a new session's first prompt 100.5 -> 82.6 ms at load 5.4 (serve's CPU
    67.8 -> 58.7 ms; a later prompt after the same 1 s pause: 70.8 ms), its time to the model
    request 27.4 -> 22.4 ms at load 0.3 (later prompts: 20-24 ms). ``--library`` (caw's new
    chat on a session created ahead, load 1.2): first send 47.0 -> 43.4 ms (paired -9.6 ms).

    Only what opencode itself would choose: caw's model (the prompt names it), else the
    configured default model; with no default in the config opencode picks from its own
    state (recent models), so nothing is set. A wrong agent would only be rewritten by the
    first prompt (as before), never used: the prompt's agent is never the session's."""
    config = await serve.config()
    if model is None:
        default = config.get("model")
        provider_id, _, model_id = (
            default.partition("/") if isinstance(default, str) else ("", "", "")
        )
        if not model_id:
            return {}
        model = {"providerID": provider_id, "modelID": model_id}
    agent = config.get("default_agent") or DEFAULT_AGENT
    chosen = {"id": model["modelID"], "providerID": model["providerID"]}
    return {"agent": agent, "model": {**chosen, "variant": variant or "default"}}
