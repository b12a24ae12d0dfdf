"""Codex: one shared ``codex app-server`` (JSON-RPC lines on stdio), ``codex exec`` as fallback.

All codex conversations of one environment share one app-server: each is a
thread in it, and notifications are routed to conversations by ``threadId``.
The server is refcounted by its conversations and stops with the last one.
CLIs without a working app-server (or ``CAW_CODEX_MODE=exec``) get a
per-turn ``codex exec --json`` / ``codex exec resume`` process instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from .. import __version__
from ..errors import BackendFailed
from ..events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from ..models import Usage
from .base import Conversation, ConversationOptions, Provider, RawSink, model_error
from .jsonrpc_lines import JsonRpcPeer, PeerClosed, RpcError
from .process import ChildProcess

log = logging.getLogger("caw.codex")

MODE_ENV = "CAW_CODEX_MODE"  # "exec" forces the per-turn fallback; "app-server" forbids it
INITIALIZE_TIMEOUT = 30.0
_END = object()  # the app-server is gone, or the conversation closed, mid-turn


# --- locating the binary -------------------------------------------------------------

# (sys.platform, machine) -> (target triple, npm platform package), as npm's codex.js computes them.
_NPM_TARGETS = {
    ("linux", "x86_64"): ("x86_64-unknown-linux-musl", "codex-linux-x64"),
    ("linux", "aarch64"): ("aarch64-unknown-linux-musl", "codex-linux-arm64"),
    ("darwin", "x86_64"): ("x86_64-apple-darwin", "codex-darwin-x64"),
    ("darwin", "arm64"): ("aarch64-apple-darwin", "codex-darwin-arm64"),
}


def native_cli(cli: str) -> tuple[str, dict[str, str]]:
    """The native binary behind npm's ``codex.js`` wrapper, and the env the wrapper would add.

    On Node < 22 the wrapper runs the binary as its child, which a SIGKILL of caw
    would orphan; running the binary directly keeps it in caw's supervision.
    Anything else (or a layout we do not recognise) is used as it is.
    """
    real = os.path.realpath(cli)
    if not real.endswith(os.path.join("bin", "codex.js")):
        return cli, {}
    package = os.path.dirname(os.path.dirname(real))
    target = _NPM_TARGETS.get((sys.platform, platform.machine()))
    if target is None:
        return cli, {}
    triple, platform_package = target
    for vendor in (
        os.path.join(package, "node_modules", "@openai", platform_package, "vendor"),
        os.path.join(os.path.dirname(package), platform_package, "vendor"),
        os.path.join(package, "vendor"),
    ):
        binary = os.path.join(vendor, triple, "bin", "codex")
        if os.access(binary, os.X_OK):
            return binary, {"CODEX_MANAGED_PACKAGE_ROOT": package, "CODEX_MANAGED_BY_NPM": "1"}
    return cli, {}


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string, for ``-c key=value`` (else codex parses it as TOML)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


# --- events --------------------------------------------------------------------------


_APP_SERVER_TOKENS = ("inputTokens", "cachedInputTokens", "cacheWriteInputTokens", "outputTokens")
_EXEC_TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens")


def _usage(
    tokens: Mapping[str, Any], names: tuple[str, str, str, str] = _APP_SERVER_TOKENS
) -> Usage:
    """Codex token counts (OpenAI style: input includes cached) as caw's disjoint counts."""
    total, cached, written, output = (int(tokens.get(name) or 0) for name in names)
    return Usage(
        input_tokens=max(0, total - cached - written),
        output_tokens=output,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def _minus(total: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, int]:
    return {k: v - int(base.get(k) or 0) for k, v in total.items() if isinstance(v, int)}


def _tool_call(item: Mapping[str, Any]) -> ToolCall | None:
    """The call an app-server thread item stands for (None for non-tool items)."""
    kind, item_id = item.get("type"), str(item.get("id", ""))
    if kind == "commandExecution":
        where = {"cwd": item["cwd"]} if item.get("cwd") else {}  # exec items carry no cwd
        return ToolCall(
            id=item_id, name="commandExecution", input={"command": item.get("command"), **where}
        )
    if kind == "fileChange":
        return ToolCall(id=item_id, name="fileChange", input={"changes": item.get("changes") or []})
    if kind == "mcpToolCall":
        args = item.get("arguments")
        return ToolCall(
            id=item_id,
            name=f"mcp__{item.get('server')}__{item.get('tool')}",
            input=args if isinstance(args, dict) else {"arguments": args},
        )
    if kind == "dynamicToolCall":
        args = item.get("arguments")
        return ToolCall(
            id=item_id,
            name=str(item.get("tool")),
            input=args if isinstance(args, dict) else {"arguments": args},
        )
    if kind == "webSearch":
        return ToolCall(id=item_id, name="webSearch", input={"query": item.get("query")})
    return None


def _tool_result(item: Mapping[str, Any]) -> ToolResult:
    status = item.get("status")
    failed = (
        status in ("failed", "declined")
        or item.get("exitCode") not in (None, 0)
        or bool(item.get("error"))
    )
    kind = item.get("type")
    if kind == "commandExecution":
        output = item.get("aggregatedOutput") or ("declined" if status == "declined" else "")
    elif kind == "mcpToolCall":
        result, error = item.get("result") or {}, item.get("error") or {}
        texts = [str(c.get("text", "")) for c in result.get("content") or [] if isinstance(c, dict)]
        output = str(error.get("message", "")) if error else "\n".join(texts)
    elif kind == "dynamicToolCall":
        output = "\n".join(
            str(c.get("text", "")) for c in item.get("contentItems") or [] if isinstance(c, dict)
        )
        failed = failed or item.get("success") is False
    else:
        output = str(status or "")
    return ToolResult(id=str(item.get("id", "")), output=output, is_error=failed)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def exec_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A ``codex exec --json`` item in the app-server's shape (camelCase names, summary list)."""
    out = {_camel(key): value for key, value in item.items()}
    out["type"] = _camel(str(out.get("type", "")))
    if out["type"] == "reasoning" and "summary" not in out:
        out["summary"] = [out.get("text") or ""]
    return out


class TurnTranslator:
    """Folds one turn's app-server notifications into caw events."""

    def __init__(self) -> None:
        self._streamed: set[str] = set()  # items whose text arrived as deltas
        # Whether text or thinking came since the last tool event. codex retries a broken model
        # request whole (the same input, a fresh answer), so that part of the turn is then void.
        self._prose_since_tool = False
        self._tools: set[str] = set()
        self._reasoning_kind: dict[
            str, str
        ] = {}  # item -> which delta kind it streams (summary or raw)
        self._summary_index: dict[str, int] = {}
        self._usage_base: Mapping[str, Any] | None = None
        self.error: str | None = None

    def events(self, method: str, params: Mapping[str, Any]) -> Iterator[Event]:
        if method == "item/agentMessage/delta":
            if params.get("delta"):
                self._streaming(str(params.get("itemId")))
                yield TextDelta(text=params["delta"])
        elif method in ("item/reasoning/summaryTextDelta", "item/reasoning/textDelta"):
            yield from self._reasoning(method, params)
        elif method in ("item/started", "item/completed"):
            yield from self._item(method, params.get("item") or {})
        elif method == "thread/tokenUsage/updated":
            usage = params.get("tokenUsage") or {}
            total, last = usage.get("total") or {}, usage.get("last") or {}
            if self._usage_base is None:  # the thread's total before this turn's first model call
                self._usage_base = _minus(total, last)
            yield UsageUpdate(usage=_usage(_minus(total, self._usage_base)))
        elif method == "error":
            error = params.get("error") or {}
            if not params.get("willRetry"):
                self.error = _error_text(error) or self.error
            elif self._prose_since_tool:
                self._prose_since_tool = False
                yield TextDelta(text="", replace=True)

    def _streaming(self, item_id: str) -> None:
        self._streamed.add(item_id)
        self._prose_since_tool = True

    def _reasoning(self, method: str, params: Mapping[str, Any]) -> Iterator[Event]:
        item_id, delta = str(params.get("itemId")), params.get("delta")
        # An item may stream both its summary and its raw text; show one of them.
        if not delta or self._reasoning_kind.setdefault(item_id, method) != method:
            return
        index = params.get("summaryIndex")
        if isinstance(index, int):
            if item_id in self._summary_index and self._summary_index[item_id] != index:
                delta = "\n\n" + delta
            self._summary_index[item_id] = index
        self._streaming(item_id)
        yield ThinkingDelta(text=delta)

    def _item(self, method: str, item: Mapping[str, Any]) -> Iterator[Event]:
        item_id, kind = str(item.get("id", "")), item.get("type")
        call = _tool_call(item)
        if call is not None:
            self._prose_since_tool = False
            if item_id not in self._tools:
                self._tools.add(item_id)
                yield call
            if method == "item/completed":
                yield _tool_result(item)
        elif method == "item/completed" and item_id not in self._streamed:
            if kind == "agentMessage" and item.get("text"):
                self._prose_since_tool = True
                yield TextDelta(text=item["text"])
            elif kind == "reasoning":
                text = "\n\n".join(item.get("summary") or []) or "\n\n".join(
                    item.get("content") or []
                )
                if text:
                    self._prose_since_tool = True
                    yield ThinkingDelta(text=text)


def _error_text(error: Mapping[str, Any]) -> str:
    """A turn error's message, with codex's classification (``codexErrorInfo``) appended."""
    message = str(error.get("message") or "")
    if error.get("additionalDetails"):
        message += f": {error['additionalDetails']}"
    info, status = error.get("codexErrorInfo"), None
    if (
        isinstance(info, dict) and info
    ):  # e.g. {"responseTooManyFailedAttempts": {"httpStatusCode": 429}}
        info, data = next(iter(info.items()))
        status = data.get("httpStatusCode") if isinstance(data, dict) else None
    # "usage limit" is what base.model_error recognises
    tags = [
        "usage limit" if info == "usageLimitExceeded" else info if info != "other" else None,
        f"HTTP {status}" if status else None,
    ]
    tags = [str(tag) for tag in tags if tag]
    return f"{message} ({', '.join(tags)})" if tags else message


# --- answering the app-server's requests ---------------------------------------------


def approval_answer(method: str, params: Mapping[str, Any], permission_mode: str) -> Any:
    """The answer to a server request, headless: allow everything (bypass) or nothing (deny)."""
    allow = permission_mode == "bypass"
    if method in ("item/commandExecution/requestApproval", "item/fileChange/requestApproval"):
        return {"decision": "accept" if allow else "decline"}
    if method in ("execCommandApproval", "applyPatchApproval"):  # the v1 forms
        return {
            "decision": "approved"
            if allow
            else {"denied": {"rejection": "caw's permission mode is deny"}}
        }
    if method == "item/permissions/requestApproval":
        return {"permissions": (params.get("permissions") or {}) if allow else {}, "scope": "turn"}
    if method == "item/tool/requestUserInput":
        return {"answers": {}}
    if method == "mcpServer/elicitation/request":
        return {"action": "decline"}
    raise RpcError(-32601, f"caw does not handle {method}")


# --- the shared app-server -----------------------------------------------------------


def _thread_of(params: Mapping[str, Any]) -> str | None:
    thread = (
        params.get("threadId")
        or params.get("conversationId")
        or (params.get("thread") or {}).get("id")
    )
    return thread if isinstance(thread, str) else None


class AppServer:
    """One ``codex app-server`` process, shared by the conversations (threads) of one environment."""

    def __init__(self, key: tuple[Any, ...], process: ChildProcess):
        self.key = key
        self.process = process
        self.users = 0  # conversations holding this server (including ones still starting)
        self.threads: dict[str, set[CodexConversation]] = {}
        self._stopped = False
        self.peer = JsonRpcPeer(
            process,
            on_notification=self._notify,
            on_request=self._request,
            on_close=self._closed,
            version=None,
        )

    @classmethod
    async def launch(cls, key: tuple[Any, ...], cli: str, env: Mapping[str, str]) -> AppServer:
        process = await ChildProcess.spawn([cli, "app-server"], name="codex app-server", env=env)
        server = cls(key, process)
        try:
            client = {"name": "caw", "title": "caw", "version": __version__}
            await asyncio.wait_for(
                server.peer.request("initialize", {"clientInfo": client}), INITIALIZE_TIMEOUT
            )
            await server.peer.notify("initialized")
        except BaseException:
            await server.stop()
            raise
        return server

    @property
    def alive(self) -> bool:
        return self.process.alive and not self.peer.closed

    def attach(self, conversation: CodexConversation) -> None:
        self.threads.setdefault(conversation.thread_id, set()).add(conversation)
        self.process.hide(conversation.thread_id)

    def detach(self, conversation: CodexConversation) -> None:
        convs = self.threads.get(conversation.thread_id)
        if convs is not None:
            convs.discard(conversation)
            if not convs:
                del self.threads[conversation.thread_id]

    def _notify(self, method: str, params: dict[str, Any], raw: dict[str, Any]) -> None:
        thread = _thread_of(params)
        for conversation in list(self.threads.get(thread, ())) if thread else ():
            conversation._incoming(method, params, raw)

    async def _request(self, method: str, params: dict[str, Any], raw: dict[str, Any]) -> Any:
        thread = _thread_of(params)
        conversations = list(self.threads.get(thread, ())) if thread else []
        for conversation in conversations:
            conversation._incoming(method, params, raw)
        # A request for a thread nobody here owns is answered as strictly as possible.
        mode = conversations[0].options.permission_mode if conversations else "deny"
        return approval_answer(method, params, mode)

    def _closed(self) -> None:
        for convs in list(self.threads.values()):
            for conversation in list(convs):
                conversation._server_ended()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # stdin EOF lets the server flush its rollout files before we signal it.
        self.process.close_stdin()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.process.proc.wait()), 2.0)
        await self.process.stop()
        await self.peer.aclose()


def _thread_params(options: ConversationOptions) -> dict[str, Any]:
    """What thread/start and thread/resume share: cwd, permissions, model, instructions."""
    bypass = options.permission_mode == "bypass"
    params: dict[str, Any] = {
        "cwd": options.cwd,
        # deny: codex asks before anything outside a read-only sandbox, and caw declines.
        "approvalPolicy": "never" if bypass else "untrusted",
        "sandbox": "danger-full-access" if bypass else "read-only",
    }
    if options.model:
        params["model"] = options.model
    if options.system_prompt:
        # Added as developer instructions, so codex keeps its own instructions for its tools.
        params["developerInstructions"] = options.system_prompt
    if options.reasoning:
        params["config"] = {"model_reasoning_effort": options.reasoning}
    return params


class CodexConversation(Conversation):
    """One thread in a shared app-server."""

    def __init__(
        self,
        provider: CodexProvider,
        server: AppServer,
        thread_id: str,
        options: ConversationOptions,
    ):
        self.provider = provider
        self.server = server
        self.thread_id = self.resume_key = thread_id
        self.options = options
        self._queue: asyncio.Queue[Any] | None = None  # the running turn's inbox
        self._turn_id: str | None = None
        self._interrupt_requested = False
        self._closed = False
        server.attach(self)

    @property
    def alive(self) -> bool:
        return not self._closed and self.server.alive

    def _incoming(self, method: str, params: dict[str, Any], raw: dict[str, Any]) -> None:
        if self._queue is not None:
            self._queue.put_nowait((method, params, raw))

    def _server_ended(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(_END)

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._queue, self._turn_id, self._interrupt_requested = queue, None, False
        translator = TurnTranslator()
        try:
            try:
                started = await self.server.peer.request(
                    "turn/start",
                    {"threadId": self.thread_id, "input": [{"type": "text", "text": text}]},
                )
            except PeerClosed:
                raise await self._died() from None
            except RpcError as exc:
                raise BackendFailed(f"codex could not start the turn: {exc.rpc_message}") from None
            self._turn_id = ((started or {}).get("turn") or {}).get("id")
            if self._interrupt_requested:
                await self._send_interrupt()
            while True:
                item = await queue.get()
                if item is _END:
                    if self._closed:
                        return
                    raise await self._died()
                method, params, message = item
                turn_id = params.get("turnId") or (params.get("turn") or {}).get("id")
                if turn_id is not None and turn_id != self._turn_id:
                    continue  # a notification about an earlier turn (e.g. usage replayed on resume)
                raw(message)
                for event in translator.events(method, params):
                    yield event
                if method == "turn/completed":
                    turn = params.get("turn") or {}
                    status = turn.get("status")
                    if status == "failed":
                        error = (
                            _error_text(turn.get("error") or {})
                            or translator.error
                            or "the turn failed"
                        )
                        raise model_error(f"codex reported an error: {error}")
                    if status == "interrupted" and not self._interrupt_requested:
                        raise BackendFailed("codex interrupted the turn")
                    return
        finally:
            self._queue, self._turn_id = None, None

    async def _died(self) -> BackendFailed:
        process = self.server.process
        await process.wait_stderr()
        return BackendFailed(
            f"the codex app-server ended during the turn: {process.describe_exit()}",
            exit_code=process.returncode,
            stderr_tail=process.stderr_tail(),
        )

    async def interrupt(self) -> None:
        if self._queue is None or not self.server.alive:
            return
        self._interrupt_requested = True
        if self._turn_id is not None:  # else send() interrupts once turn/start has answered
            await self._send_interrupt()

    async def _send_interrupt(self) -> None:
        try:
            await self.server.peer.request(
                "turn/interrupt", {"threadId": self.thread_id, "turnId": self._turn_id}
            )
        except BackendFailed as exc:  # "no active turn": it ended meanwhile (or the server did)
            log.debug("turn/interrupt: %s", exc)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if (
            self._queue is not None
        ):  # a turn still running: end its iterator (the core gave up on it)
            await self.interrupt()
            self._queue.put_nowait(_END)
        self.server.detach(self)
        await self.provider._release(self.server, self.thread_id)


# --- the exec fallback ---------------------------------------------------------------


class CodexExecConversation(Conversation):
    """A thread driven by one ``codex exec --json`` process per turn (no app-server)."""

    def __init__(
        self, cli: str, env: Mapping[str, str], options: ConversationOptions, resume_key: str | None
    ):
        self.cli, self.env, self.options = cli, env, options
        self.resume_key = resume_key
        self._process: ChildProcess | None = None
        self._interrupted = False
        # Exec reports the thread's cumulative usage; a resumed thread's earlier total is unknown.
        self._usage_total: dict[str, Any] | None = None if resume_key else {}

    def _argv(self, text: str) -> list[str]:
        options = self.options
        flags = ["--json", "--skip-git-repo-check"]
        if options.permission_mode == "bypass":
            flags.append("--dangerously-bypass-approvals-and-sandbox")
        else:  # nobody can answer an approval here: never ask, and sandbox read-only
            flags += ["-c", 'sandbox_mode="read-only"', "-c", 'approval_policy="never"']
        if options.model:
            flags += ["-m", options.model]
        if options.system_prompt:
            flags += ["-c", f"developer_instructions={_toml_string(options.system_prompt)}"]
        if options.reasoning:
            flags += ["-c", f"model_reasoning_effort={_toml_string(options.reasoning)}"]
        if self.resume_key is None:
            return [self.cli, "exec", *flags, "--", text]
        return [self.cli, "exec", "resume", *flags, "--", self.resume_key, text]

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        self._interrupted = False
        process = await ChildProcess.spawn(
            self._argv(text), name="codex exec", env=self.env, cwd=self.options.cwd, stdin=False
        )
        self._process = process
        process.hide(self.resume_key)
        error: str | None = None
        translator = TurnTranslator()
        try:
            async for line in process.json_lines():
                raw(line)
                kind = line.get("type")
                if kind == "thread.started":
                    self.resume_key = line.get("thread_id") or self.resume_key
                    process.hide(self.resume_key)
                elif kind in ("item.started", "item.completed"):
                    method = "item/started" if kind == "item.started" else "item/completed"
                    for event in translator.events(
                        method, {"item": exec_item(line.get("item") or {})}
                    ):
                        yield event
                elif kind == "turn.completed":
                    usage = self._turn_usage(line.get("usage") or {})
                    if usage is not None:
                        yield UsageUpdate(usage=usage)
                elif kind == "turn.failed":
                    error = str(
                        (line.get("error") or {}).get("message") or error or "the turn failed"
                    )
                elif kind == "error":
                    error = str(line.get("message") or "")
            await process.proc.wait()
            if self._interrupted:
                return
            await process.wait_stderr()
            stderr = process.stderr_tail()
            if "no rollout found" in stderr:
                raise BackendFailed(
                    "codex has no conversation with this resume key (no rollout found)",
                    exit_code=process.returncode,
                    stderr_tail=stderr,
                )
            if error is not None:
                raise model_error(f"codex reported an error: {error}")
            if process.returncode != 0:
                raise BackendFailed(
                    f"codex exec failed: {process.describe_exit()}",
                    exit_code=process.returncode,
                    stderr_tail=stderr,
                )
        finally:
            self._process = None
            await process.stop()

    def _turn_usage(self, cumulative: Mapping[str, Any]) -> Usage | None:
        before, self._usage_total = self._usage_total, dict(cumulative)
        return None if before is None else _usage(_minus(cumulative, before), _EXEC_TOKENS)

    async def interrupt(self) -> None:
        process = self._process
        if process is not None and process.alive:
            self._interrupted = True
            # SIGINT: codex records the turn as interrupted and exits.
            with contextlib.suppress(ProcessLookupError):
                process.proc.send_signal(signal.SIGINT)

    async def close(self) -> None:
        if self._process is not None:
            await self.interrupt()
            await self._process.stop()


# --- the provider ---------------------------------------------------------------------


class CodexProvider(Provider):
    name = "codex"
    cli = "codex"
    npm_package = "@openai/codex"

    def __init__(self) -> None:
        self._servers: dict[tuple[Any, ...], AppServer] = {}
        self._no_app_server: set[tuple[Any, ...]] = set()  # environments whose CLI could not serve
        self._lock = asyncio.Lock()

    @classmethod
    def check_resume_key(cls, key: str) -> str:
        # `codex exec resume <not-a-uuid>` takes a thread *name* and silently starts a new thread.
        return cls._check_uuid_key(key)

    def _backend(self, options: ConversationOptions) -> tuple[str, dict[str, str], str]:
        env = options.process_env()
        cli, extra = native_cli(self.require_cli(env))
        env.update(extra)
        return cli, env, env.get(MODE_ENV, "").strip().lower() or "auto"

    async def _acquire(self, cli: str, env: Mapping[str, str], mode: str) -> AppServer | None:
        """This environment's app-server (started if need be), or None to use ``codex exec``."""
        if mode == "exec":
            return None
        # Everything in the environment may change codex's behaviour (CODEX_HOME, keys, PATH).
        key = (cli, tuple(sorted(env.items())))
        async with self._lock:
            server = self._servers.get(key)
            if server is None or not server.alive:
                if key in self._no_app_server and mode != "app-server":
                    return None
                try:
                    server = await AppServer.launch(key, cli, env)
                except (BackendFailed, OSError, asyncio.TimeoutError) as exc:
                    if mode == "app-server":
                        raise BackendFailed(f"`codex app-server` did not start: {exc}") from None
                    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    tail = (getattr(exc, "stderr_tail", "") or "").strip().splitlines()[-1:]
                    log.warning(
                        "`codex app-server` did not start (%s); using `codex exec` per turn",
                        " ".join([detail, *tail]),
                    )
                    self._no_app_server.add(key)
                    return None
                self._servers[key] = server
            server.users += 1
            return server

    async def _release(self, server: AppServer, thread_id: str | None) -> None:
        async with self._lock:
            server.users -= 1
            last = server.users <= 0
            if last and self._servers.get(server.key) is server:
                del self._servers[server.key]
        if last:
            await server.stop()
        elif thread_id and server.alive and thread_id not in server.threads:
            try:  # let the server unload the thread; others still use the server
                await server.peer.request("thread/unsubscribe", {"threadId": thread_id})
            except BackendFailed as exc:
                log.debug("thread/unsubscribe: %s", exc)

    async def _open(
        self,
        method: str,
        params: dict[str, Any],
        options: ConversationOptions,
        resume_key: str | None,
    ) -> Conversation:
        cli, env, mode = self._backend(options)
        server = await self._acquire(cli, env, mode)
        if server is None:
            return CodexExecConversation(cli, env, options, resume_key)
        try:
            result = await server.peer.request(method, params)
            thread_id = ((result or {}).get("thread") or {}).get("id")
            if not isinstance(thread_id, str):
                raise BackendFailed(f"codex answered {method} without a thread id")
        except BaseException as exc:
            await self._release(server, None)
            if not isinstance(exc, RpcError):
                raise
            if resume_key is None:
                raise BackendFailed(f"codex could not start a thread: {exc.rpc_message}") from None
            message = exc.rpc_message.replace(resume_key, "<resume key>")
            if "no rollout found" in message:
                raise BackendFailed(
                    f"codex has no conversation with this resume key ({message})"
                ) from None
            raise BackendFailed(f"codex could not resume the thread: {message}") from None
        return CodexConversation(self, server, thread_id, options)

    async def start(self, options: ConversationOptions) -> Conversation:
        return await self._open("thread/start", _thread_params(options), options, None)

    async def resume(self, resume_key: str, options: ConversationOptions) -> Conversation:
        self.check_resume_key(resume_key)
        return await self._open(
            "thread/resume",
            {"threadId": resume_key, **_thread_params(options)},
            options,
            resume_key,
        )

    async def aclose(self) -> None:
        async with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            await server.stop()
