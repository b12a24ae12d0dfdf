"""pygls' LSP protocol, made strict about JSON-RPC 2.0 and quiet about message bodies.

What changes against pygls 2.1:

* Frames are parsed here, not by a ``json.loads`` object hook: unparsable
  input answers -32700 with id null, a non-request answers -32600, batches
  work as JSON-RPC 2.0 says, and params of caw's own methods arrive as plain
  dicts (pygls would turn them into namedtuples) for pydantic to validate.
* Responses are plain dicts with exactly one of ``result``/``error``; an
  exception's traceback is logged, never sent.
* Message bodies are never logged (a ``session/send`` answer carries a handle).
* ``exit`` and end of input stop the daemon through its own shutdown path
  (ending every backend) instead of ``sys.exit`` inside a callback.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

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

from . import wire

if TYPE_CHECKING:
    from .app import CawServer

log = logging.getLogger("caw_server.protocol")

_MISSING = object()
# What a client that does not read may miss: session/send's answer carries the whole turn.
DROPPABLE = frozenset({"session/update", types.WINDOW_LOG_MESSAGE})


class RpcError(JsonRpcException):
    """An error answer: code, message and ``data`` (an :class:`~caw_server.wire.ErrorData` dict)."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None):
        super().__init__(message=message, code=code, data=data)


def rpc_error(kind: str, message: str, **data: Any) -> RpcError:
    code = wire.ERRORS[kind][0]
    return RpcError(
        code,
        message,
        wire.ErrorData(kind=kind, **data).model_dump(mode="json", by_alias=True, exclude_none=True),
    )


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
    _server: CawServer

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
        self._server.saw_message(method)
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
        lsp_type = self.get_message_type(method)
        if is_request and lsp_type is not None and "id" not in attrs.fields_dict(lsp_type):
            return self.answer_error(
                msg_id,
                rpc_error(
                    "invalidRequest",
                    f"invalid request: {method} is a notification: send it without an id",
                ),
            )
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
                error = types.ResponseError(code=wire.INTERNAL_ERROR, message="malformed error")
        self._handle_response(msg["id"], msg.get("result"), error)

    # pygls logs params here; caw's may hold a handle.
    def forget_request(self, msg_id: Any) -> None:
        """Stop waiting for the client's answer to our request ``msg_id`` (a late one is dropped)."""
        self._request_futures.pop(msg_id, None)

    def _handle_notification(self, method_name: str, params: Any) -> None:
        if method_name == types.CANCEL_REQUEST:
            return self._handle_cancel_notification(params.id)
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
                callback=self._check_handler_result,
            )
        except Exception:
            log.exception("notification %s failed", method_name)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        future = self._request_futures.get(msg_id)
        if future is None:
            log.debug("$/cancelRequest for unknown or finished request %r", msg_id)
            return
        future.cancel()

    def _check_handler_result(self, future: Future[Any]) -> None:
        if not future.cancelled() and (exc := future.exception()) is not None:
            log.error("notification handler failed", exc_info=exc)

    # --- output --------------------------------------------------------------------

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
        self.answer_error(
            msg_id,
            rpc_error("internal", f"internal error: {type(exc).__name__} (see the daemon's log)"),
        )
        return None

    def answer_error(self, msg_id: Any, exc: JsonRpcException) -> None:
        self._send_response(msg_id, error=exc.to_response_error())

    def _send_response(
        self, msg_id: Any, result: Any = None, error: types.ResponseError | None = None
    ) -> None:
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id}
        if error is not None:
            payload = {"code": error.code, "message": error.message}
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

    def _send_data(self, data: Any) -> None:
        if self.writer is None:
            return
        try:
            body = json.dumps(data, default=self._serialize_message, separators=(",", ":")).encode(
                "utf-8"
            )
        except Exception:
            log.exception("could not serialize an outgoing message")
            return
        droppable = isinstance(data, dict) and data.get("method") in DROPPABLE
        self.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body, droppable=droppable)

    # --- lifecycle -----------------------------------------------------------------

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        result = yield from super().lsp_initialize(params)
        caw = yield self._server.caw_capabilities, (), None
        result.capabilities.text_document_sync = None  # caw has no use for documents
        result.capabilities.experimental = {"caw": caw}
        self._server.client_ready = (
            True  # the answer goes out right after this, before anything else
        )
        return result

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:
        self._server.request_exit(0 if self._shutdown else 1)


def _without_params(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k != "params"}


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _cattrs_message(exc: BaseException) -> str:
    """cattrs' messages with the field path in wire spelling: '... @ params.processId'."""
    try:
        lines = cattrs.transform_error(exc, path="$")  # type: ignore[arg-type]
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
