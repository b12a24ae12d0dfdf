"""A scripted model server for the Anthropic Messages and OpenAI Responses APIs.

One HTTP server on 127.0.0.1 serves both APIs, so one instance serves claude,
codex and opencode at once::

    with ScriptedModelServer() as server:
        env = cli_environment("claude_code", server.base_url, tmp_path)
        ...
        assert server.requests[-1].user_texts()[-1] == "Where am I deploying?"

Routes (with or without the ``/v1`` prefix)
    ``POST /v1/messages``               Anthropic Messages, SSE when ``"stream": true``, else JSON
    ``POST /v1/messages/count_tokens``  ``{"input_tokens": N}``
    ``POST /v1/responses``              OpenAI Responses, SSE when ``"stream": true``, else JSON
    ``GET  /v1/models``                 a small model list (both APIs' shapes merged)
    anything else                       404 JSON (GET/POST/...) and logged

What is answered is decided by :mod:`caw.testing.script` (facts, questions,
directives such as ``[[slow:2]]`` or ``[[tool:bash:echo hi]]``).

Server-level knobs (thread-safe; they act on main-agent requests only, never
on the CLIs' side requests such as title generation):

* ``latency``: seconds to wait before the first token
* ``delta_delay``: seconds between two deltas of a stream
* ``fail_next(status, count=1)``, ``cut_next(count=1)``, ``hang_next(count=1)``
* ``retry_after``: seconds sent as ``retry-after-ms`` / ``retry-after`` on error
  answers (default None: no such header). The CLIs that retry honour it, so
  ``retry_after = 0`` makes opencode's fixed 5 retries instant.
* ``requests``: the :class:`RecordedRequest` log; ``main_requests()`` filters it
* ``reset()``: clears the knobs and the log (``clear()`` only clears the log)

Command line (for benchmarks and other processes)::

    python -m caw.testing.model_server --port 0 [--latency S] [--delta-delay S]

prints ``http://127.0.0.1:PORT`` on one line and serves until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import select
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import script
from .script import Message, Reply, dumps

__all__ = ["RecordedRequest", "ScriptedModelServer", "main"]

DEFAULT_MODEL = "caw-scripted-1"


def _count_tokens(obj: Any) -> int:
    """A plausible token count: the number of whitespace-separated words in all strings."""
    n = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, str):
            n += len(o.split())
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
    return max(n, 1)


def _system_text(api: str, body: dict[str, Any]) -> str:
    if api == "anthropic":
        system = body.get("system")
        if isinstance(system, str):
            return system
        if isinstance(system, list):
            return "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
        return ""
    parts = []
    if isinstance(body.get("instructions"), str):
        parts.append(body["instructions"])
    items = body.get("input")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("role") in ("system", "developer"):
                content = item.get("content")
                if isinstance(content, str):
                    parts.append(content)
                elif isinstance(content, list):
                    parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


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
        out = []
        if isinstance(self.body, dict):
            for t in self.body.get("tools") or []:
                if isinstance(t, dict):
                    out.append(
                        t.get("name") or (t.get("function") or {}).get("name") or t.get("type")
                    )
        return out

    def __repr__(self) -> str:  # short, for assertion messages
        texts = self.user_texts()
        return (
            f"<RecordedRequest {self.method} {self.path} {self.kind} model={self.model!r} "
            f"users={texts[-3:]!r} reply={self.reply_text!r}>"
        )


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

    def _event(self, name: str, data: dict[str, Any]) -> None:
        self._chunk(f"event: {name}\ndata: {dumps(data)}\n\n".encode())

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
                return self.connection.recv(1, socket.MSG_PEEK) == b""
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
                    _count_tokens(
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
        if not isinstance(body, dict):
            rec = owner._record(method, path, api, "other", headers, body)
            rec.status = 400
            self._send_json(400, _error_body(api, 400, "request body must be a JSON object"))
            return
        system = _system_text(api, body)
        kind = script.classify(api, body, system)
        rec = owner._record(method, path, api, kind, headers, body, system=system)
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
        input_tokens = _count_tokens({"s": system, "b": body.get("messages") or body.get("input")})

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
                    _error_body(
                        api, reply.fail_status, None, usage_limit=reply.fail_kind == "usage_limit"
                    ),
                    extra=extra or None,
                )
            return
        rec.status = 200
        latency = owner.latency
        delta_delay = owner.delta_delay
        if api == "anthropic":
            events = _anthropic_events(reply, model, input_tokens)
        else:
            events = _openai_events(reply, model, input_tokens, body)
        if not stream:
            if latency:
                self._sleep(latency)
            if reply.cut:
                self._cut()
            final = None
            for _name, data, _is_delta in events:
                final = data
            obj = final["message"] if api == "anthropic" else final["response"]
            self._send_json(200, obj)
            return
        events = [e for e in events if e[0] != "__final__"]
        if reply.cut:
            # Keep the stream up to its second delta (or its last one), then drop it.
            delta_at = [i for i, e in enumerate(events) if e[2]]
            events = events[: delta_at[min(1, len(delta_at) - 1)] + 1] if delta_at else events[:1]
        self._start_sse()
        first = True
        n_deltas = sum(1 for e in events if e[2])
        slow_delay = (reply.slow / max(n_deltas, 1)) if reply.slow else 0.0
        for name, data, is_delta in events:
            if is_delta:
                if first:
                    first = False
                    if latency:
                        self._sleep(latency)
                else:
                    delay = max(delta_delay, slow_delay)
                    if delay:
                        self._sleep(delay)
            self._event(name, data)
        if reply.cut:
            self._cut()
        self._end_chunks()


def _split(text: str, fine: bool) -> list[str]:
    """Split an answer into deltas: per character when streaming slowly, else per word."""
    if not text:
        return []
    if fine:
        return list(text)
    parts: list[str] = []
    current = ""
    for ch in text:
        current += ch
        if ch == " ":
            parts.append(current)
            current = ""
    if current:
        parts.append(current)
    return parts


def _error_body(
    api: str, status: int, message: str | None, usage_limit: bool = False
) -> dict[str, Any]:
    if api == "anthropic":
        if usage_limit:
            return {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "usage limit reached: you have reached your usage limit for this period",
                },
            }
        etype = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            413: "request_too_large",
            429: "rate_limit_error",
            500: "api_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        return {
            "type": "error",
            "error": {"type": etype, "message": message or f"scripted {etype} ({status})"},
        }
    if usage_limit:
        return {
            "error": {
                "type": "usage_limit_reached",
                "code": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "param": None,
                "plan_type": "plus",
                "resets_in_seconds": 3600,
            }
        }
    etype, code = {
        400: ("invalid_request_error", "invalid_request"),
        401: ("invalid_request_error", "invalid_api_key"),
        403: ("invalid_request_error", "forbidden"),
        404: ("invalid_request_error", "not_found"),
        429: ("rate_limit_exceeded", "rate_limit_exceeded"),
        500: ("server_error", "server_error"),
        503: ("server_error", "server_is_overloaded"),
        529: ("server_error", "server_is_overloaded"),
    }.get(status, ("server_error", "server_error"))
    return {
        "error": {
            "type": etype,
            "code": code,
            "message": message or f"scripted {etype} ({status})",
            "param": None,
        }
    }


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


# Each event generator yields (event name, data, is_delta).  The last item is
# ("__final__", {...full object...}, False) used for non-streaming answers.
Event = tuple[str, dict[str, Any], bool]


def _anthropic_events(reply: Reply, model: str, input_tokens: int) -> Iterator[Event]:
    msg_id = _new_id("msg")
    fine = reply.slow is not None
    output_tokens = 0
    content: list[dict[str, Any]] = []
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
        "service_tier": "standard",
    }
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": dict(usage),
            },
        },
        False,
    )
    index = 0
    if reply.thinking:
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
            False,
        )
        for piece in _split(reply.thinking, fine):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "thinking_delta", "thinking": piece},
                },
                True,
            )
        signature = "c2NyaXB0ZWQ=" + uuid.uuid4().hex
        yield (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "signature_delta", "signature": signature},
            },
            False,
        )
        yield ("content_block_stop", {"type": "content_block_stop", "index": index}, False)
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": signature})
        output_tokens += _count_tokens(reply.thinking)
        index += 1
    if reply.text or reply.tool_call is None:
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
            False,
        )
        yield ("ping", {"type": "ping"}, False)
        for piece in _split(reply.text, fine):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                },
                True,
            )
        yield ("content_block_stop", {"type": "content_block_stop", "index": index}, False)
        content.append({"type": "text", "text": reply.text})
        output_tokens += _count_tokens(reply.text)
        index += 1
    stop_reason = "end_turn"
    if reply.tool_call is not None:
        tool_id = "toolu_" + uuid.uuid4().hex[:24]
        call = reply.tool_call
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": call.name,
                    "input": {},
                },
            },
            False,
        )
        args = dumps(call.arguments)
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                },
                True,
            )
        yield ("content_block_stop", {"type": "content_block_stop", "index": index}, False)
        content.append(
            {"type": "tool_use", "id": tool_id, "name": call.name, "input": call.arguments}
        )
        output_tokens += _count_tokens(call.arguments)
        stop_reason = "tool_use"
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {
                "output_tokens": output_tokens,
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
        False,
    )
    yield ("message_stop", {"type": "message_stop"}, False)
    usage["output_tokens"] = output_tokens
    yield (
        "__final__",
        {
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": usage,
            }
        },
        False,
    )


def _openai_events(
    reply: Reply, model: str, input_tokens: int, body: dict[str, Any]
) -> Iterator[Event]:
    resp_id = _new_id("resp")
    fine = reply.slow is not None
    seq = itertools.count(0)
    created = int(time.time())
    output: list[dict[str, Any]] = []

    def response(status: str, with_usage: bool = False) -> dict[str, Any]:
        r: dict[str, Any] = {
            "id": resp_id,
            "object": "response",
            "created_at": created,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "max_output_tokens": body.get("max_output_tokens"),
            "model": model,
            "output": list(output),
            "parallel_tool_calls": bool(body.get("parallel_tool_calls", False)),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": bool(body.get("store", False)),
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": None,
            "user": None,
            "metadata": {},
        }
        if with_usage:
            out_tokens = _count_tokens(output)
            reasoning_tokens = (
                _count_tokens([o for o in output if o.get("type") == "reasoning"])
                if any(o.get("type") == "reasoning" for o in output)
                else 0
            )
            r["usage"] = {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": out_tokens,
                "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
                "total_tokens": input_tokens + out_tokens,
            }
        return r

    def ev(name: str, data: dict[str, Any], is_delta: bool = False) -> Event:
        data = {"type": name, "sequence_number": next(seq), **data}
        return (name, data, is_delta)

    yield ev("response.created", {"response": response("in_progress")})
    yield ev("response.in_progress", {"response": response("in_progress")})
    index = 0
    if reply.thinking:
        rs_id = _new_id("rs")
        item = {"id": rs_id, "type": "reasoning", "summary": []}
        yield ev("response.output_item.added", {"output_index": index, "item": item})
        yield ev(
            "response.reasoning_summary_part.added",
            {
                "item_id": rs_id,
                "output_index": index,
                "summary_index": 0,
                "part": {"type": "summary_text", "text": ""},
            },
        )
        for piece in _split(reply.thinking, fine):
            yield ev(
                "response.reasoning_summary_text.delta",
                {"item_id": rs_id, "output_index": index, "summary_index": 0, "delta": piece},
                True,
            )
        yield ev(
            "response.reasoning_summary_text.done",
            {"item_id": rs_id, "output_index": index, "summary_index": 0, "text": reply.thinking},
        )
        part = {"type": "summary_text", "text": reply.thinking}
        yield ev(
            "response.reasoning_summary_part.done",
            {"item_id": rs_id, "output_index": index, "summary_index": 0, "part": part},
        )
        done = {"id": rs_id, "type": "reasoning", "summary": [part]}
        output.append(done)
        yield ev("response.output_item.done", {"output_index": index, "item": done})
        index += 1
    if reply.text or reply.tool_call is None:
        msg_id = _new_id("msg")
        item = {
            "id": msg_id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        yield ev("response.output_item.added", {"output_index": index, "item": item})
        yield ev(
            "response.content_part.added",
            {
                "item_id": msg_id,
                "output_index": index,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        )
        for piece in _split(reply.text, fine):
            yield ev(
                "response.output_text.delta",
                {
                    "item_id": msg_id,
                    "output_index": index,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                },
                True,
            )
        yield ev(
            "response.output_text.done",
            {
                "item_id": msg_id,
                "output_index": index,
                "content_index": 0,
                "text": reply.text,
                "logprobs": [],
            },
        )
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        yield ev(
            "response.content_part.done",
            {"item_id": msg_id, "output_index": index, "content_index": 0, "part": part},
        )
        done = {
            "id": msg_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
        output.append(done)
        yield ev("response.output_item.done", {"output_index": index, "item": done})
        index += 1
    if reply.tool_call is not None:
        call = reply.tool_call
        call_id = "call_" + uuid.uuid4().hex[:24]
        if call.kind == "local_shell":
            item_id = _new_id("lsh")
            done = {
                "id": item_id,
                "type": "local_shell_call",
                "call_id": call_id,
                "status": "completed",
                "action": call.arguments,
            }
            yield ev(
                "response.output_item.added",
                {"output_index": index, "item": {**done, "status": "in_progress"}},
            )
            output.append(done)
            yield ev("response.output_item.done", {"output_index": index, "item": done}, True)
        else:
            item_id = _new_id("fc")
            args = dumps(call.arguments)
            item = {
                "id": item_id,
                "type": "function_call",
                "status": "in_progress",
                "call_id": call_id,
                "name": call.name,
                "arguments": "",
            }
            yield ev("response.output_item.added", {"output_index": index, "item": item})
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                yield ev(
                    "response.function_call_arguments.delta",
                    {"item_id": item_id, "output_index": index, "delta": piece},
                    True,
                )
            yield ev(
                "response.function_call_arguments.done",
                {"item_id": item_id, "output_index": index, "arguments": args},
            )
            done = {**item, "status": "completed", "arguments": args}
            output.append(done)
            yield ev("response.output_item.done", {"output_index": index, "item": done})
    final = response("completed", with_usage=True)
    yield ev("response.completed", {"response": final})
    yield ("__final__", {"response": final}, False)


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
    ) -> None:
        self.host = host
        self._requested_port = port
        self._lock = threading.RLock()
        self._latency = float(latency)
        self._delta_delay = float(delta_delay)
        self._retry_after: float | None = None
        self._responder = responder
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m caw.testing.model_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="first-token delay in seconds")
    parser.add_argument("--delta-delay", type=float, default=0.0, help="seconds between deltas")
    parser.add_argument("--log", action="store_true", help="print one line per request on stderr")
    args = parser.parse_args(argv)
    server = ScriptedModelServer(
        args.host, args.port, latency=args.latency, delta_delay=args.delta_delay
    )
    if args.log:

        def log(rec: RecordedRequest, reply: Reply) -> None:
            texts = rec.user_texts()
            print(
                f"{rec.method} {rec.path} {rec.kind} {texts[-1:]!r} -> {reply.text!r}",
                file=sys.stderr,
                flush=True,
            )
            return

        server.set_responder(log)
    server.start()
    print(server.base_url, flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        while not done.wait(1.0):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
