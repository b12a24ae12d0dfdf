"""The caw protocol's messages: params, results, notifications and error codes.

One pydantic model per concept. Turns, trajectories and update events are the
library's own models (:mod:`caw.models`, :mod:`caw.events`), so the wire, the
disk and the JSON Schema (``protocol/caw.schema.json``, generated from this
module by :mod:`caw_server.schema`) cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Union

from pydantic import ConfigDict, Field, model_validator

from caw.events import Event
from caw.models import CawModel, Trajectory, Turn
from caw.permissions import PermissionMode

from .permissions import (
    ClientCapabilities,
    RequestPermissionParams,
    RequestPermissionResult,
    RuleSpec,
)

#: MAJOR.MINOR. Minor: additive (new methods, new optional fields, new update kinds).
#: Major: anything a v1 client could trip over.
PROTOCOL_VERSION = "1.0"

ProgressToken = Union[int, str]
LogLevel = Literal["error", "warning", "info", "debug"]


class Params(CawModel):
    """Request params: camelCase, unknown keys ignored (forward compatible), types checked strictly."""

    model_config = ConfigDict(strict=True)


# --- initialize ----------------------------------------------------------------------


class InitializationOptions(Params):
    """``initialize``'s ``initializationOptions``; each key overrides the matching command-line flag."""

    provider: str | None = Field(
        None, description="Default provider for session/start (claude_code, codex, opencode)."
    )
    data_dir: str | None = Field(
        None,
        description="Where sessions are recorded. null turns persistence off; absent keeps the daemon's setting.",
    )
    idle_timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds after which an idle session's backend process is stopped (resumed on the next send).",
    )
    turn_timeout: float | None = Field(
        None, gt=0, description="Seconds a turn may run before it fails with kind 'timeout'."
    )
    log_level: LogLevel | None = None
    permission_mode: PermissionMode | None = Field(
        None,
        description="Default for sessions that name none: ask (the default: questions go to the "
        "client; rejected when it cannot answer), bypass (tools run unasked) or deny.",
    )
    permission_timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds a permission question waits for the client's answer before it is rejected.",
    )
    client_capabilities: ClientCapabilities | None = Field(
        None,
        description="What this client can do; permissions: true if it answers session/requestPermission.",
    )


class ProviderInfo(CawModel):
    name: str
    installed: bool
    version: str | None = None


class CawCapabilities(CawModel):
    """``InitializeResult.capabilities.experimental.caw``."""

    protocol_version: str = PROTOCOL_VERSION
    providers: list[ProviderInfo] = Field(default_factory=list)


# --- session/* -----------------------------------------------------------------------


class StartParams(Params):
    provider: str | None = Field(
        None, description="claude_code, codex or opencode (aliases: claude). Default: the daemon's."
    )
    model: str | None = None
    system_prompt: str | None = None
    reasoning: str | None = Field(
        None,
        description="Reasoning effort, passed to the backend as it is (e.g. low, medium, high).",
    )
    cwd: str | None = Field(
        None, description="The agent's working directory. Default: the daemon's."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Stored with the trajectory; 'title' names the session."
    )
    permission_mode: PermissionMode | None = Field(None, description="Default: the daemon's.")
    permission_rules: list[RuleSpec] = Field(
        default_factory=list,
        description="Workspace rules (remembered answers the client keeps for this workspace).",
    )


class StartResult(CawModel):
    session_id: str
    provider: str
    model: str | None = None


class SendParams(Params):
    session_id: str
    message: str = Field(min_length=1, pattern=r"\S")
    work_done_token: ProgressToken | None = Field(
        None, description="If set, $/progress begin/report/end are sent for this turn."
    )
    exclusive: bool = Field(
        False, description="Fail with kind 'sessionBusy' instead of queueing behind a running turn."
    )


class SendResult(CawModel):
    turn: Turn
    resume_handle: str | None = Field(
        None,
        description="The session's resume handle (a credential: store it like one). Present from the first answer on.",
    )


class ResumeParams(Params):
    handle: str | None = Field(None, description="A resume handle, as returned by session/send.")
    session_id: str | None = Field(
        None, description="A bare session id; works when the daemon's data dir has the session."
    )
    cwd: str | None = None
    permission_mode: PermissionMode | None = Field(
        None, description="Default: the daemon's. Not applied to a session live in this daemon."
    )
    permission_rules: list[RuleSpec] = Field(
        default_factory=list,
        description="Workspace rules (remembered answers the client keeps for this workspace).",
    )

    @model_validator(mode="after")
    def _needs_one(self) -> ResumeParams:
        if self.handle is None and self.session_id is None:
            raise ValueError("either 'handle' or 'sessionId' is required")
        return self


class ResumeResult(CawModel):
    session_id: str
    provider: str
    resume_handle: str | None = None
    turns: list[Turn] = Field(
        default_factory=list, description="The stored history (empty without a data dir)."
    )


class SessionRef(Params):
    session_id: str


class CancelResult(CawModel):
    cancelled: bool = Field(description="False when no turn was running.")


class EndResult(CawModel):
    trajectory: Trajectory


class ListParams(Params):
    cwd: str | None = Field(None, description="Only sessions whose working directory is this one.")


class SessionInfo(CawModel):
    session_id: str
    provider: str
    model: str | None = None
    cwd: str | None = None
    title: str = ""
    created_at: datetime
    updated_at: datetime
    num_turns: int = 0
    live: bool = Field(description="Registered in this daemon right now.")


class ListResult(CawModel):
    sessions: list[SessionInfo]


# --- notifications -------------------------------------------------------------------


class SessionUpdate(CawModel):
    """``session/update``: one streamed event of the running turn, before session/send answers."""

    session_id: str
    update: Event


class SessionDidChange(CawModel):
    """``session/didChange``: a session in the data dir appeared, changed or was removed."""

    session_id: str


# --- errors --------------------------------------------------------------------------


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
    "sessionBusy": (1009, "A turn is running and the send asked for exclusivity."),
    "sessionClosed": (1010, "The session has ended."),
    "persistenceFailed": (1011, "Writing to the data dir failed."),
}


#: method -> (params model, result model or None, one line of documentation)
METHODS: dict[str, tuple[type[CawModel], type[CawModel] | None, str]] = {
    "session/start": (
        StartParams,
        StartResult,
        "Start a conversation; its backend process starts now.",
    ),
    "session/send": (
        SendParams,
        SendResult,
        "Run one turn; session/update notifications stream before the answer.",
    ),
    "session/resume": (
        ResumeParams,
        ResumeResult,
        "Attach to a stored conversation by handle (or bare id with a data dir).",
    ),
    "session/cancel": (
        SessionRef,
        CancelResult,
        "Stop the running turn; its session/send answers -32800.",
    ),
    "session/end": (SessionRef, EndResult, "End the session and its backend process."),
    "session/list": (
        ListParams,
        ListResult,
        "Sessions in the data dir (and live ones); never handles.",
    ),
}

#: request (server -> client) -> (params model, result model, one line of documentation)
CLIENT_REQUESTS: dict[str, tuple[type[CawModel], type[CawModel], str]] = {
    "session/requestPermission": (
        RequestPermissionParams,
        RequestPermissionResult,
        "In permissionMode ask: may this tool call run? (ACP's session/request_permission shape.)",
    ),
}

#: notification (server -> client) -> params model
NOTIFICATIONS: dict[str, type[CawModel]] = {
    "session/update": SessionUpdate,
    "session/didChange": SessionDidChange,
}
