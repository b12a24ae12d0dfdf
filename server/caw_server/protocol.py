"""pygls' LSP protocol, made strict about JSON-RPC 2.0 and quiet about message bodies.

The protocol reaches the daemon only through :class:`DaemonHooks`, and the daemon sends
through the protocol's public methods (``notify`` for notifications, ``answer_error``,
``receive_frame``, ``open_output``, ``cancel_requests``).

pygls does the dispatch: handler lookup, running handlers, ``shutdown``,
``$/progress`` and ``window/workDoneProgress/cancel``. What it cannot be configured to
do is overridden below; each override says which behaviour it fixes, and
``tests/server/test_pygls_seams.py`` fails if a pygls upgrade stops calling it or
changes what it relies on. Besides, frames are parsed here (:meth:`receive_frame`),
not by pygls' ``json.loads`` object hook: unparsable input answers -32700 with id
null, a non-request answers -32600, batches work as JSON-RPC 2.0 says, and params of
caw's own methods arrive as plain dicts (pygls would turn them into namedtuples) for
pydantic to validate.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Callable, Generator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    LanguageServerProtocol,
    lsp_method,
)

from .errors import INTERNAL_ERROR, internal_error, rpc_error

if TYPE_CHECKING:
    from cattrs import Converter
    from pygls.lsp.server import LanguageServer

log = logging.getLogger("caw_server.protocol")

_MISSING = object()
# caw requests that start a backend: refused when sent as a notification.
_STARTS_A_BACKEND = frozenset({"session/start", "session/resume"})
# What a client that does not read may miss: session/send's answer carries the whole turn.
DROPPABLE = frozenset({"session/update", types.WINDOW_LOG_MESSAGE})


@runtime_checkable
class DaemonHooks(Protocol):
    """What the protocol needs from the daemon (:class:`~caw_server.app.CawServer`)."""

    def saw_message(self, method: str) -> None:
        """A well-formed message for ``method`` arrived; it is handled next."""

    async def initialize(self, params: types.InitializeParams) -> dict[str, Any]:
        """Apply ``initializationOptions``; return ``capabilities.experimental``."""

    def request_exit(self, code: int) -> None:
        """``exit`` arrived: stop serving, end every backend, exit with ``code``."""


class FrameWriter(Protocol):
    """Where framed messages go (:class:`~caw_server.transport.Writer`)."""

    def write(self, data: bytes, *, droppable: bool = False) -> None: ...

    def close(self) -> None: ...


class _Batch:
    """Collects the answers to one JSON-RPC batch and sends them as one array."""

    def __init__(self, send: Callable[[Any], None]):
        self._send = send
        self.expected = 0
        self.answers: list[dict[str, Any]] = []
        self.sealed = False

    def add(self, answer: dict[str, Any]) -> None:
        self.answers.append(answer)
        self._flush()

    def seal(self) -> None:
        self.sealed = True
        self._flush()

    def _flush(self) -> None:
        if self.sealed and self.expected and len(self.answers) == self.expected:
            self._send(self.answers)
            self.expected = 0


_current_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "caw_batch", default=None
)


def _valid_id(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool))
    )


def _reject_non_json_number(name: str) -> None:
    """Python's json accepts NaN and Infinity; JSON (RFC 8259) does not."""
    raise ValueError(f"{name} is not a JSON number")


class CawProtocol(LanguageServerProtocol):
    def __init__(self, server: LanguageServer, converter: Converter):
        super().__init__(server, converter)
        if not isinstance(server, DaemonHooks):
            raise TypeError(f"{type(server).__name__} does not implement DaemonHooks")
        self._hooks: DaemonHooks = server
        self._output: FrameWriter | None = None
        # LSP: no notifications of the server's own before initialize is answered (log lines may
        # come during it). A client that skips initialize (by hand) is ready at its first request.
        self.client_ready = False

    def open_output(self, writer: FrameWriter) -> None:
        self._output = writer
        self.set_writer(writer)

    # --- input ---------------------------------------------------------------------

    def receive_frame(self, body: bytes) -> None:
        """Handle one frame's body: a message or a batch."""
        try:
            data = json.loads(body.decode("utf-8"), parse_constant=_reject_non_json_number)
        except UnicodeDecodeError:
            return self.answer_error(
                None, rpc_error("parseError", "parse error: the message is not valid UTF-8")
            )
        except (ValueError, RecursionError) as exc:
            return self.answer_error(
                None,
                rpc_error(
                    "parseError", f"parse error: the message is not valid JSON ({_short(exc)})"
                ),
            )
        if isinstance(data, list):
            if not data:
                return self.answer_error(
                    None, rpc_error("invalidRequest", "invalid request: an empty batch")
                )
            batch = _Batch(self._send_data)
            token = _current_batch.set(batch)
            try:
                for item in data:
                    self._receive_message(item, batch)
            finally:
                _current_batch.reset(token)
            batch.seal()
        else:
            self._receive_message(data, None)
        return None

    def _receive_message(self, msg: Any, batch: _Batch | None) -> None:
        def invalid(why: str, msg_id: Any = None) -> None:
            if batch is not None:
                batch.expected += 1
            self.answer_error(msg_id, rpc_error("invalidRequest", f"invalid request: {why}"))

        if not isinstance(msg, dict):
            return invalid("a message must be a JSON object")
        msg_id = msg.get("id", _MISSING)
        id_ok = msg_id is _MISSING or _valid_id(msg_id)
        answer_id = msg_id if id_ok and msg_id is not _MISSING else None
        if msg.get("jsonrpc") != "2.0":
            return invalid('"jsonrpc" must be "2.0"', answer_id)
        if not id_ok:
            return invalid('"id" must be a string, an integer or null')
        method = msg.get("method", _MISSING)
        if method is _MISSING:
            if msg_id is not _MISSING and ("result" in msg or "error" in msg):
                return self._receive_response(msg)
            return invalid("neither a request, a notification nor a response", answer_id)
        if not isinstance(method, str):
            return invalid('"method" must be a string', answer_id)
        params = msg.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            return invalid('"params" must be an object or an array', answer_id)
        is_request = msg_id is not _MISSING
        if is_request and batch is not None:
            batch.expected += 1
        if self._shutdown and method != types.EXIT:
            if is_request:
                self.answer_error(
                    msg_id,
                    rpc_error("invalidRequest", "invalid request: the server is shutting down"),
                )
            return None
        log.debug(
            "%s %.100s%s",
            "request" if is_request else "notification",
            method,
            f" id={msg_id!r:.100}" if is_request else "",
        )
        self._hooks.saw_message(method)
        if method != types.INITIALIZE:
            self.client_ready = True
        known = (
            method in self.fm.builtin_features
            or method in self.fm.features
            or method == types.CANCEL_REQUEST
        )
        if not known:
            if is_request:
                self.answer_error(
                    msg_id, rpc_error("methodNotFound", f"method not found: {method[:200]}")
                )
            else:
                log.debug("ignored notification for unknown method %.200r", method)
            return None
        if not is_request and method in _STARTS_A_BACKEND:
            # Sent as a notification, it would start a backend no one hears of (issue 21,
            # finding 9). It cannot be answered, so it is refused in the log.
            log.warning(
                "refused %s sent as a notification: send it as a request (with an id)", method
            )
            return None
        lsp_type = self.get_message_type(method)
        if is_request and lsp_type is not None and "id" not in attrs.fields_dict(lsp_type):
            return self.answer_error(
                msg_id,
                rpc_error(
                    "invalidRequest",
                    f"invalid request: {method} is a notification: send it without an id",
                ),
            )
        message: Any
        if lsp_type is not None:
            try:
                message = self._converter.structure(
                    msg if params is not None or "params" not in msg else _without_params(msg),
                    lsp_type,
                )
            except Exception as exc:
                if is_request:
                    self.answer_error(
                        msg_id,
                        rpc_error("invalidParams", f"invalid params: {_cattrs_message(exc)}"),
                    )
                else:
                    log.warning(
                        "dropped notification %s: invalid params: %s", method, _cattrs_message(exc)
                    )
                return None
        elif is_request:
            message = JsonRPCRequestMessage(id=msg_id, method=method, jsonrpc="2.0", params=params)
        else:
            message = JsonRPCNotification(method=method, jsonrpc="2.0", params=params)
        self.handle_message(message)
        return None

    def _receive_response(self, msg: dict[str, Any]) -> None:
        error = msg.get("error")
        if error is not None:
            try:
                error = self._converter.structure(error, types.ResponseError)
            except Exception:
                error = types.ResponseError(code=INTERNAL_ERROR, message="malformed error")
        self._handle_response(msg["id"], msg.get("result"), error)

    # pygls override. (1) pygls files each notification handler's future under a fresh id
    # in _request_futures and never removes it: memory would grow with every notification.
    # One id per method keeps one. (2) A $/cancelRequest for a request that has finished is
    # routine (the client races the answer); pygls warns about each, and the warning would
    # reach the client as window/logMessage. (3) A failing handler is logged with its
    # traceback, never its params.
    def _handle_notification(self, method_name: str, params: Any) -> None:
        if method_name == types.CANCEL_REQUEST:
            return self._cancel_request(params.id)
        try:
            handler = self._get_handler(method_name)
        except JsonRpcException:
            log.debug("ignored notification for unknown method %r", method_name)
            return None
        try:
            self._execute_handler(
                msg_id=f"notification:{method_name}",
                handler=handler,
                args=(params,),
                callback=_log_notification_failure,
            )
        except Exception:
            log.exception("notification %s failed", method_name)
        return None

    def _cancel_request(self, msg_id: Any) -> None:
        future = self._request_futures.get(msg_id)
        if future is None:
            log.debug("$/cancelRequest for unknown or finished request %r", msg_id)
            return
        future.cancel()

    def forget_request(self, msg_id: Any) -> None:
        """Stop waiting for the client's answer to our request ``msg_id`` (a late one is dropped)."""
        self._request_futures.pop(msg_id, None)
        self._result_types.pop(msg_id, None)

    def cancel_requests(self) -> list[asyncio.Future[Any]]:
        """Cancel every request still running; returns them, to wait for their answers."""
        pending: list[asyncio.Future[Any]] = []
        for future in self._request_futures.values():
            # caw's handlers run as asyncio tasks, which can be awaited; pygls' generator
            # handlers (initialize) end with the tasks they wait on.
            if isinstance(future, asyncio.Future) and not future.done():
                future.cancel()
                pending.append(future)
        return pending

    # --- output --------------------------------------------------------------------

    # pygls override. (1) A cancelled request answers -32800 with data.kind "cancelled" like
    # every caw error (pygls sends no data). (2) An unexpected exception answers "internal"
    # and its traceback goes to the log only (pygls sends it to the client in error.data).
    # (3) An expected error (unknownSession, ...) is not logged with a traceback.
    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        self._request_futures.pop(msg_id, None)
        if future.cancelled():
            return self.answer_error(msg_id, rpc_error("cancelled", "the request was cancelled"))
        exc = future.exception()
        if exc is None:
            return self._send_response(msg_id, result=future.result())
        if isinstance(exc, JsonRpcException):
            return self.answer_error(msg_id, exc)
        log.error("internal error answering request %r", msg_id, exc_info=exc)
        return self.answer_error(msg_id, internal_error(exc))

    def answer_error(self, msg_id: Any, exc: JsonRpcException) -> None:
        self._send_response(msg_id, error=exc.to_response_error())

    # pygls override. (1) pygls' converter drops "id" from an error answer whose id is null
    # (a parse error's): JSON-RPC 2.0 requires "id": null. (2) An answer to a request that came
    # in a batch joins the batch's one array (pygls has no batches).
    def _send_response(
        self, msg_id: Any, result: Any = None, error: types.ResponseError | None = None
    ) -> None:
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id}
        if error is not None:
            payload: dict[str, Any] = {"code": error.code, "message": error.message}
            if error.data is not None:
                payload["data"] = error.data
            answer["error"] = payload
        else:
            answer["result"] = (
                self._converter.unstructure(result)
                if hasattr(result, "__attrs_attrs__")
                else result
            )
        batch = _current_batch.get()
        if batch is not None:
            batch.add(answer)
        else:
            self._send_data(answer)

    # pygls override: every outgoing message passes here. (1) It tells the writer which
    # messages a lagging client may miss (DROPPABLE) so output stays bounded. (2) Content-Length
    # counts bytes and no Content-Type header is sent (pygls counts characters and adds one).
    # (3) Bodies are never logged (pygls logs each at info; an answer may carry a handle).
    def _send_data(self, data: Any) -> None:
        if self._output is None:
            return
        try:
            body = json.dumps(data, default=self._serialize_message, separators=(",", ":")).encode(
                "utf-8"
            )
        except Exception:
            log.exception("could not serialize an outgoing message")
            return
        method = data.get("method") if isinstance(data, dict) else getattr(data, "method", None)
        self._output.write(
            b"Content-Length: %d\r\n\r\n" % len(body) + body, droppable=method in DROPPABLE
        )

    # --- lifecycle -----------------------------------------------------------------

    # pygls override: pygls builds the InitializeResult from its registered features and
    # offers no way to add capabilities.experimental (caw's protocol version and providers).
    # The daemon decides everything in DaemonHooks.initialize; this only puts it in the answer.
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        result = yield from super().lsp_initialize(params)
        experimental = yield self._hooks.initialize, (params,), None
        result.capabilities.text_document_sync = None  # caw has no use for documents
        result.capabilities.experimental = experimental
        self.client_ready = True  # the answer goes out right after this, before anything else
        return result

    # pygls override: pygls calls sys.exit inside the handler, which would skip ending the
    # backends; the daemon stops through its own shutdown path instead.
    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        self._hooks.request_exit(0 if self._shutdown else 1)
        yield from ()


def _log_notification_failure(future: Future[Any]) -> None:
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.error("notification handler failed", exc_info=exc)


def _without_params(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k != "params"}


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _cattrs_message(exc: BaseException) -> str:
    """cattrs' messages with the field path in wire spelling: '... @ params.processId'."""
    try:
        lines = cattrs.transform_error(exc, path="$")
    except Exception:
        return _short(exc)
    out = []
    for line in lines:
        text, _, path = line.rpartition(" @ $.")
        out.append(f"{path and to_camel_path(path)}: {text}" if text else line)
    return "; ".join(out)


def to_camel_path(path: str) -> str:
    return ".".join(
        part.split("_")[0] + "".join(w.title() for w in part.split("_")[1:])
        for part in path.split(".")
    )
