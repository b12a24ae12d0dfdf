"""The HTTP core: routing, streaming, fault injection and the request log."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from .. import script
from ..script import Message, Reply, dumps
from . import anthropic, openai_responses
from .api import DEFAULT_MODEL, ModelAPI, count_tokens

# The model APIs by the name RecordedRequest.api and caw.testing.script use.
APIS: dict[str, ModelAPI] = {api.name: api for api in (anthropic.API, openai_responses.API)}


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    api: str  # "anthropic" | "openai" | "other"
    kind: str  # "main" | "side" | "count_tokens" | "models" | "other"
    headers: dict[str, str]
    body: Any = None
    model: str | None = None
    system: str = ""
    stream: bool = False
    received_at: float = field(default_factory=time.time)
    reply_text: str | None = None  # the text answered (None for errors / non-model routes)
    reply_tool: str | None = None  # the name of the tool called, if any
    status: int | None = None

    @property
    def messages(self) -> list[Message]:
        if not isinstance(self.body, dict):
            return []
        if self.api == "anthropic":
            return script.normalize_anthropic(self.body)
        if self.api == "openai":
            return script.normalize_openai(self.body)
        return []

    def user_texts(self) -> list[str]:
        """The cleaned text of every user message (injections removed; tool-result-only messages skipped)."""
        return [m.user_text for m in self.messages if m.role == "user" and m.user_text]

    @property
    def session_id(self) -> str | None:
        """The CLI's conversation id, from the headers each CLI sends.

        claude: ``x-claude-code-session-id`` (its session UUID); codex:
        ``thread-id`` / ``session-id`` (the thread id); opencode:
        ``x-session-id`` (its ``ses_...`` id).
        """
        for key in (
            "x-claude-code-session-id",
            "thread-id",
            "session-id",
            "x-session-id",
            "session_id",
        ):
            if self.headers.get(key):
                return self.headers[key]
        return None

    @property
    def tool_names(self) -> list[str]:
        out: list[str] = []
        if isinstance(self.body, dict):
            for t in self.body.get("tools") or []:
                if isinstance(t, dict):
                    name = t.get("name") or (t.get("function") or {}).get("name") or t.get("type")
                    if isinstance(name, str):
                        out.append(name)
        return out

    def __repr__(self) -> str:  # short, for assertion messages
        texts = self.user_texts()
        return (
            f"<RecordedRequest {self.method} {self.path} {self.kind} model={self.model!r} "
            f"users={texts[-3:]!r} reply={self.reply_text!r}>"
        )


class StreamObserver(Protocol):
    """Watches model requests as they are answered (for timing; it must not block).

    Each method runs on the request's handler thread.
    """

    def request_started(self, rec: RecordedRequest) -> None: ...

    def event_written(self, rec: RecordedRequest, name: str, data: dict[str, Any]) -> None:
        """An event's bytes have just been written to the socket."""

    def request_finished(self, rec: RecordedRequest) -> None: ...


class _Stop(Exception):
    """The connection is gone or the server is stopping."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ------------------------------------------------------------------ plumbing
    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, False)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length)) if int(length) > 0 else b""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _send_json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        if self.server.owner._stopping.is_set():
            raise _Stop()
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError as exc:
            raise _Stop() from exc

    def _end_chunks(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError as exc:
            raise _Stop() from exc

    def _event(self, rec: RecordedRequest, name: str, data: dict[str, Any]) -> None:
        self._chunk(f"event: {name}\ndata: {dumps(data)}\n\n".encode())
        observer = self.server.owner.observer
        if observer is not None:
            observer.event_written(rec, name, data)

    def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up (raising) when the server stops or the client hangs up."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.server.owner._stopping.wait(min(remaining, 0.05)):
                raise _Stop()
            if self._client_gone():
                raise _Stop()

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
                return peeked == b""
        except (OSError, ValueError):
            return True
        return False

    def _hang(self) -> None:
        while not self.server.owner._stopping.wait(0.05):
            if self._client_gone():
                break
        self.close_connection = True
        raise _Stop()

    def _cut(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _Stop()

    # ------------------------------------------------------------------ routing
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        owner = self.server.owner
        try:
            raw = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        path = self.path.split("?", 1)[0]
        route = path[3:] if path.startswith("/v1/") else path
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if method == "POST" and route == "/messages":
                self._model_request("anthropic", method, path, headers, body)
            elif method == "POST" and route == "/messages/count_tokens":
                rec = owner._record(method, path, "anthropic", "count_tokens", headers, body)
                n = (
                    count_tokens(
                        {"s": (body or {}).get("system"), "m": (body or {}).get("messages")}
                    )
                    if isinstance(body, dict)
                    else 1
                )
                rec.status = 200
                self._send_json(200, {"input_tokens": n})
            elif method == "POST" and route == "/responses":
                self._model_request("openai", method, path, headers, body)
            elif method == "GET" and route == "/models":
                rec = owner._record(method, path, "other", "models", headers, body)
                rec.status = 200
                self._send_json(200, owner._models_payload())
            else:
                rec = owner._record(method, path, "other", "other", headers, body)
                rec.status = 404
                if method == "HEAD":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._send_json(
                        404,
                        {
                            "type": "error",
                            "error": {
                                "type": "not_found_error",
                                "message": f"no route {method} {path}",
                            },
                        },
                    )
        except _Stop:
            self.close_connection = True
        except OSError:
            self.close_connection = True

    # ------------------------------------------------------------------ model turns
    def _model_request(
        self, api: str, method: str, path: str, headers: dict[str, str], body: Any
    ) -> None:
        owner = self.server.owner
        model_api = APIS[api]
        if not isinstance(body, dict):
            rec = owner._record(method, path, api, "other", headers, body)
            rec.status = 400
            self._send_json(
                400, model_api.error_body(400, "request body must be a JSON object", False)
            )
            return
        system = model_api.system_text(body)
        kind = script.classify(api, body, system)
        rec = owner._record(method, path, api, kind, headers, body, system=system)
        observer = owner.observer
        if observer is not None:
            observer.request_started(rec)
        try:
            self._answer(model_api, rec, body)
        finally:
            if observer is not None:
                observer.request_finished(rec)

    def _answer(self, model_api: ModelAPI, rec: RecordedRequest, body: dict[str, Any]) -> None:
        owner = self.server.owner
        api, kind, system = model_api.name, rec.kind, rec.system
        messages = rec.messages
        reply = script.plan_reply(api, body, messages, kind=kind)
        if kind == "main":
            owner._apply_knobs(reply)
        if owner._responder is not None:
            custom = owner._responder(rec, reply)
            if custom is not None:
                reply = custom
        rec.reply_text = reply.text if reply.tool_call is None else None
        rec.reply_tool = reply.tool_call.name if reply.tool_call else None
        model = str(body.get("model") or DEFAULT_MODEL)
        stream = bool(body.get("stream"))
        input_tokens = count_tokens({"s": system, "b": body.get("messages") or body.get("input")})

        if reply.hang:
            rec.status = None
            self._hang()
        if reply.fail_status is not None:
            rec.status = reply.fail_status
            rec.reply_text = None
            if not self.server.owner._stopping.is_set():
                extra = {"x-should-retry": "false"} if reply.fail_kind == "usage_limit" else {}
                retry_after = owner.retry_after
                if retry_after is not None:
                    extra.update(
                        {
                            "retry-after-ms": str(int(retry_after * 1000)),
                            "retry-after": str(int(retry_after)),
                        }
                    )
                self._send_json(
                    reply.fail_status,
                    model_api.error_body(reply.fail_status, None, reply.fail_kind == "usage_limit"),
                    extra=extra or None,
                )
            return
        rec.status = 200
        latency = owner.latency
        delta_delay = owner.delta_delay
        events = list(model_api.events(reply, model, input_tokens, body))
        if not stream:
            if latency:
                self._sleep(latency)
            if reply.cut:
                self._cut()
            _name, final, _is_delta = events[-1]  # the "__final__" item: the whole answer
            self._send_json(200, final[model_api.final_key])
            return
        events = [e for e in events if e[0] != "__final__"]
        if reply.cut:
            # Keep the stream up to its second delta (or its last one), then drop it.
            delta_at = [i for i, e in enumerate(events) if e[2]]
            events = events[: delta_at[min(1, len(delta_at) - 1)] + 1] if delta_at else events[:1]
        self._start_sse()
        first = True
        n_deltas = sum(1 for e in events if e[2])
        last_delta = max((i for i, e in enumerate(events) if e[2]), default=-1)
        slow_delay = (reply.slow / max(n_deltas, 1)) if reply.slow else 0.0
        for index, (name, data, is_delta) in enumerate(events):
            if index == last_delta and reply.hold is not None:
                reply.hold()
            if is_delta:
                if first:
                    first = False
                    if latency:
                        self._sleep(latency)
                else:
                    delay = max(delta_delay, slow_delay)
                    if delay:
                        self._sleep(delay)
            self._event(rec, name, data)
        if reply.cut:
            self._cut()
        self._end_chunks()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    owner: ScriptedModelServer

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on resets
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, _Stop)):
            return
        super().handle_error(request, client_address)


class ScriptedModelServer:
    """The scripted model server (see the module docstring).

    ``responder``: an optional hook ``(RecordedRequest, Reply) -> Reply | None``
    to override the scripted reply of a request (return ``None`` to keep it).
    ``observer``: an optional :class:`StreamObserver`, told when each model request
    starts and ends and when each streamed event has been written to the socket.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        delta_delay: float = 0.0,
        responder: Callable[[RecordedRequest, Reply], Reply | None] | None = None,
        models: list[str] | None = None,
        observer: StreamObserver | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._lock = threading.RLock()
        self._latency = float(latency)
        self._delta_delay = float(delta_delay)
        self._retry_after: float | None = None
        self._responder = responder
        self.observer = observer
        self.models = list(models or [DEFAULT_MODEL])
        self._fail: deque[int] = deque()
        self._cut = 0
        self._hang = 0
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._request_event = threading.Condition(self._lock)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ScriptedModelServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._requested_port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="caw-scripted-model",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    close = stop

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ------------------------------------------------------------------ knobs
    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        with self._lock:
            self._latency = float(value)

    @property
    def delta_delay(self) -> float:
        with self._lock:
            return self._delta_delay

    @delta_delay.setter
    def delta_delay(self, value: float) -> None:
        with self._lock:
            self._delta_delay = float(value)

    @property
    def retry_after(self) -> float | None:
        with self._lock:
            return self._retry_after

    @retry_after.setter
    def retry_after(self, value: float | None) -> None:
        with self._lock:
            self._retry_after = None if value is None else max(0.0, float(value))

    def fail_next(self, status: int = 500, count: int = 1) -> None:
        """Answer the next ``count`` main requests with HTTP ``status`` and the API's error body."""
        with self._lock:
            self._fail.extend([int(status)] * count)

    def cut_next(self, count: int = 1) -> None:
        """Drop the connection mid-stream on the next ``count`` main requests."""
        with self._lock:
            self._cut += count

    def hang_next(self, count: int = 1) -> None:
        """Never answer the next ``count`` main requests (until stop() or the client leaves)."""
        with self._lock:
            self._hang += count

    def set_responder(
        self, responder: Callable[[RecordedRequest, Reply], Reply | None] | None
    ) -> None:
        with self._lock:
            self._responder = responder

    def _apply_knobs(self, reply: Reply) -> None:
        with self._lock:
            if self._hang:
                self._hang -= 1
                reply.hang = True
            elif self._fail:
                reply.fail_status = self._fail.popleft()
            elif self._cut:
                self._cut -= 1
                reply.cut = True

    def reset(self) -> ScriptedModelServer:
        """Clear the knobs (latency, delays, retry_after, queued failures, responder) and the request log."""
        with self._lock:
            self._latency = 0.0
            self._delta_delay = 0.0
            self._retry_after = None
            self._fail.clear()
            self._cut = 0
            self._hang = 0
            self._responder = None
            self._requests.clear()
        return self

    # ------------------------------------------------------------------ request log
    def _record(
        self,
        method: str,
        path: str,
        api: str,
        kind: str,
        headers: dict[str, str],
        body: Any,
        system: str = "",
    ) -> RecordedRequest:
        model = body.get("model") if isinstance(body, dict) else None
        stream = bool(body.get("stream")) if isinstance(body, dict) else False
        rec = RecordedRequest(
            method=method,
            path=path,
            api=api,
            kind=kind,
            headers=headers,
            body=body,
            model=model,
            system=system,
            stream=stream,
        )
        with self._request_event:
            self._requests.append(rec)
            self._request_event.notify_all()
        return rec

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def main_requests(self) -> list[RecordedRequest]:
        """The agent's own model requests (no side requests, probes or other routes)."""
        return [r for r in self.requests if r.kind == "main"]

    def clear(self) -> None:
        """Forget the recorded requests (knobs stay)."""
        with self._lock:
            self._requests.clear()

    def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool] | None = None, timeout: float = 10.0
    ) -> RecordedRequest:
        """Block until a recorded request matches ``predicate`` (default: any main request)."""
        pred = predicate or (lambda r: r.kind == "main")
        deadline = time.monotonic() + timeout
        with self._request_event:
            while True:
                for rec in self._requests:
                    if pred(rec):
                        return rec
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no matching request arrived")
                self._request_event.wait(remaining)

    def _models_payload(self) -> dict[str, Any]:
        now = int(time.time())
        return {
            "object": "list",
            "data": [
                {
                    "id": m,
                    "object": "model",
                    "created": now,
                    "owned_by": "caw",
                    "type": "model",
                    "display_name": m,
                    "created_at": "2026-01-01T00:00:00Z",
                }
                for m in self.models
            ],
            "models": [{"slug": m, "display_name": m} for m in self.models],
            "has_more": False,
            "first_id": self.models[0] if self.models else None,
            "last_id": self.models[-1] if self.models else None,
        }
