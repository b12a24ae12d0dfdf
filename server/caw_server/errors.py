"""Error answers: each ``data.kind`` and its code, the exception that carries one, and how
caw's exceptions and bad params become one.

Nothing here knows about pygls' dispatch or the server: the protocol and the server both
raise and send :class:`RpcError`, and ``protocol/caw.schema.json`` documents :data:`ERRORS`.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from pygls.exceptions import JsonRpcException

from caw.errors import BackendFailed, CawError, FilesChangedSince, TurnCancelled
from caw.models import CawModel, Turn
from caw.providers import UnknownProvider
from caw.trust import UntrustedWorkspace

from .logs import SECRETS

log = logging.getLogger("caw_server.errors")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800

#: data.kind -> (code, meaning). The JSON-RPC and LSP codes first, then caw's own.
ERRORS: dict[str, tuple[int, str]] = {
    "parseError": (
        PARSE_ERROR,
        "The frame is not valid JSON or UTF-8, or its header is unusable (also: frame too large). id is null.",
    ),
    "invalidRequest": (
        INVALID_REQUEST,
        "Not a JSON-RPC 2.0 request object, a notification sent with an id, or a request after shutdown.",
    ),
    "methodNotFound": (METHOD_NOT_FOUND, "No such method."),
    "invalidParams": (INVALID_PARAMS, "The params do not validate; data.errors names each field."),
    "internal": (INTERNAL_ERROR, "A bug in caw; the daemon's log has the details."),
    "cancelled": (
        REQUEST_CANCELLED,
        "The turn was cancelled (session/cancel, $/cancelRequest, session/end or shutdown).",
    ),
    "unknownSession": (
        1001,
        "No live session with this id (session/resume it first), or none stored under it.",
    ),
    "providerNotInstalled": (
        1002,
        "The provider's CLI is not installed; the message and data.installHint say how to install it.",
    ),
    "backendFailed": (
        1003,
        "The backend CLI died or failed; data.exitCode and data.stderrTail say how. The session stays usable.",
    ),
    "modelError": (
        1004,
        "The model API answered with an error (rate limit, overload, server error).",
    ),
    "usageLimit": (1005, "The account's usage limit is reached."),
    "timeout": (
        1006,
        "The turn ran longer than the turn timeout and was stopped. The session stays usable.",
    ),
    "invalidHandle": (
        1007,
        "The resume handle or id is malformed, of an unknown provider, or unsafe.",
    ),
    "noHandleYet": (1008, "The backend has not assigned a resume key yet; send a message first."),
    "sessionBusy": (
        1009,
        "A turn is running and the send asked for exclusivity, or another caw process has the "
        "session open (one writer per session; the message names its pid).",
    ),
    "sessionClosed": (1010, "The session has ended."),
    "persistenceFailed": (
        1011,
        "Writing to the data dir failed, or the data dir is unsafe (another user's, writable by "
        "group or others, or a symbolic link; the message names the path and the fix).",
    ),
    "tooManySessions": (
        1012,
        "The daemon's limit of live sessions (--max-sessions) is reached; end one first.",
    ),
    "argumentTooLong": (
        1013,
        "The backend could not start: its command line and environment are over the system's limit.",
    ),
    "tooManyOpenFiles": (
        1014,
        "The backend could not start: the daemon is out of file descriptors.",
    ),
    "untrustedWorkspace": (
        1016,
        "The folder carries agent configuration that would run as code; data.files names it."
        " Ask the user, then start again with trusted true (or false).",
    ),
    "cwdMissing": (
        1015,
        "The session's working directory does not exist (moved or deleted); resume it with another cwd.",
    ),
    "filesChangedSince": (
        1017,
        "session/revert refused: data.files changed since the turn (by a later turn or by hand);"
        " nothing was written.",
    ),
    "trajectoryCorrupted": (
        1018,
        "The session's trajectory.json cannot be read (the message says why). session/list"
        " still lists it (corrupted); session/resume continues it from the backend's own history.",
    ),
}


class FieldError(CawModel):
    field: str
    message: str


class ErrorData(CawModel):
    """``error.data`` of every caw error; ``kind`` is the stable thing to switch on."""

    kind: str
    exit_code: int | None = None
    stderr_tail: str | None = None
    install_hint: str | None = None
    provider: str | None = None
    errors: list[FieldError] | None = Field(
        None, description="invalidParams: each problem, naming its field."
    )
    turn: Turn | None = Field(
        None, description="cancelled: what the turn had produced when it stopped."
    )
    files: list[str] | None = Field(
        None,
        description="untrustedWorkspace: the agent configuration found; filesChangedSince: the"
        " files that changed since the turn. Relative to cwd.",
    )


class RpcError(JsonRpcException):
    """An error answer: code, message and ``data`` (an :class:`ErrorData` dict).

    A pygls exception, so that what pygls itself raises and what caw raises are answered alike.
    """

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None):
        super().__init__(message=message, code=code, data=data)


def rpc_error(kind: str, message: str, **data: Any) -> RpcError:
    """The error answer of ``kind`` (a key of :data:`ERRORS`); ``data`` fills :class:`ErrorData`."""
    return RpcError(
        ERRORS[kind][0],
        message,
        ErrorData(kind=kind, **data).model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def invalid_field(field: str, message: str) -> RpcError:
    return rpc_error(
        "invalidParams",
        f"invalid params: {field}: {message}",
        errors=[FieldError(field=field, message=message)],
    )


Model = TypeVar("Model", bound=BaseModel)


def parse_params(model: type[Model], raw: Any, prefix: str = "") -> Model:
    """Validate ``raw`` into ``model``; -32602 naming each bad field otherwise."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise rpc_error(
            "invalidParams", "invalid params: params must be an object (named parameters)",
            errors=[FieldError(field=prefix or "params", message="must be an object")],
        )  # fmt: skip
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [
            FieldError(
                field=prefix + ".".join(str(p) for p in e["loc"])
                if e["loc"]
                else prefix or "params",
                message=e["msg"],
            )
            for e in exc.errors(include_url=False, include_input=False)
        ]
        text = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise rpc_error("invalidParams", f"invalid params: {text}", errors=errors) from None


def to_rpc_error(exc: BaseException) -> JsonRpcException:
    """caw's exceptions as documented error answers (``data.kind`` = the exception's kind).

    Messages are scrubbed of resume keys: a backend's message may quote one.
    """
    if isinstance(exc, JsonRpcException):
        return exc
    message = SECRETS.redact(str(exc))
    if isinstance(exc, TurnCancelled):
        return rpc_error("cancelled", message, turn=exc.turn)
    if isinstance(exc, UnknownProvider):
        return invalid_field("provider", message)
    if isinstance(exc, BackendFailed):
        return rpc_error(
            exc.kind if exc.kind in ERRORS else "backendFailed", message,
            exit_code=exc.exit_code, stderr_tail=SECRETS.redact(exc.stderr_tail) or None,
        )  # fmt: skip
    if isinstance(exc, (UntrustedWorkspace, FilesChangedSince)):
        return rpc_error(exc.kind, message, files=exc.files)
    if isinstance(exc, CawError) and exc.kind in ERRORS:
        return rpc_error(exc.kind, message)
    if isinstance(exc, ValueError):
        return rpc_error(
            "invalidParams",
            f"invalid params: {message}",
            errors=[FieldError(field="params", message=message)],
        )
    log.error("internal error", exc_info=exc)
    return internal_error(exc)


def internal_error(exc: BaseException) -> RpcError:
    """A bug: the answer names the exception's type only; its traceback goes to the log, never
    to the client (pygls would send it)."""
    return rpc_error("internal", f"internal error: {type(exc).__name__} (see the daemon's log)")
