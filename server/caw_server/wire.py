"""The caw protocol's messages: params, results, notifications and error codes.

One pydantic model per concept. Turns, trajectories and update events are the
library's own models (:mod:`caw.models`, :mod:`caw.events`), so the wire, the
disk and the JSON Schema (``protocol/caw.schema.json``, generated from this
module by :mod:`caw_server.schema`) cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field, model_validator

from caw.attachments import Attachment
from caw.events import Event
from caw.model_catalog import ModelList
from caw.models import CawModel, ChangeStatus, Trajectory, Turn
from caw.permissions import PermissionMode

# Error answers (ERRORS: data.kind -> code; ErrorData) are protocol messages too; they are
# defined in errors.py, beside the exception that carries them.
from .errors import ERRORS as ERRORS
from .errors import ErrorData as ErrorData
from .errors import FieldError as FieldError
from .permissions import (
    ClientCapabilities,
    RequestPermissionParams,
    RequestPermissionResult,
    RuleSpec,
)

#: MAJOR.MINOR. Minor: additive (new methods, new optional fields, new update kinds).
#: Major: anything a v1 client could trip over.
PROTOCOL_VERSION = "1.2"

ProgressToken = int | str
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
    auto_wait: bool | None = Field(
        None,
        description="On a usage limit, wait until it resets and send the turn again, telling the "
        "client with a usageLimitWait session/update (session/cancel ends the wait). Default: "
        "$CAW_AUTOWAIT, else off (the turn fails with kind usageLimit).",
    )
    standby: int | None = Field(
        None,
        ge=0,
        description="Backends started ahead for each recently used provider and workspace, so that"
        " a new session's first answer is warm; 0 starts nothing ahead (and stops those running).",
    )


class ProviderInfo(CawModel):
    name: str
    installed: bool
    version: str | None = None


class AuthInfo(CawModel):
    """What the daemon could tell about a CLI's credentials from files and the environment
    (``caw.health.AuthSignal``); secrets are never read into it."""

    present: bool | None = Field(None, description="null: could not tell.")
    detail: str = ""
    credentials_path: str | None = None
    token_expires_at: datetime | None = None
    token_expired: bool | None = None


class ProviderHealthInfo(CawModel):
    """One CLI's health signals (``caw.health.ProviderHealth``, as ``caw doctor`` shows them)."""

    provider: str
    installed: bool
    binary_path: str | None = None
    auth: AuthInfo | None = None
    probed: bool = Field(False, description="A live probe turn was sent (caw/health live).")
    rate_limited: bool | None = None
    wait_minutes: int | None = None
    error: str | None = None


class CawCapabilities(CawModel):
    """``InitializeResult.capabilities.experimental.caw``."""

    protocol_version: str = PROTOCOL_VERSION
    providers: list[ProviderInfo] = Field(default_factory=list)
    health: list[ProviderHealthInfo] = Field(
        default_factory=list,
        description="Each CLI's health from files and the environment (never probed here).",
    )
    tools: ToolsCapabilities = Field(default_factory=lambda: ToolsCapabilities())


# --- MCP servers and tool groups (the Agent Client Protocol's shapes) -----------------


class NameValue(Params):
    name: str
    value: str


class McpServerStdio(Params):
    """An MCP server the agent starts as a subprocess (ACP ``McpServerStdio``)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: list[NameValue] = Field(
        default_factory=list, description="Values are secrets: never recorded or logged."
    )


class McpServerHttp(Params):
    """An MCP server over streamable HTTP (ACP ``McpServerHttp``)."""

    type: Literal["http"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    url: str = Field(pattern=r"^https?://")
    headers: list[NameValue] = Field(
        default_factory=list, description="Values are secrets: never recorded or logged."
    )


McpServerSpec = McpServerHttp | McpServerStdio
ToolGroupName = Literal[
    "READER", "WRITER", "EXEC", "WEB", "PARALLEL", "INTERACTION", "ALL", "NO_INTERACTION"
]


def _transports() -> list[Literal["stdio", "http"]]:
    return ["stdio", "http"]


def _group_names() -> list[ToolGroupName]:
    return list(get_args(ToolGroupName))


class ToolsCapabilities(CawModel):
    """What session/start and session/resume accept about tools."""

    mcp_servers: list[Literal["stdio", "http"]] = Field(default_factory=_transports)
    tool_groups: list[ToolGroupName] = Field(
        default_factory=_group_names,
        description="Names for 'tools'; a provider that cannot express a union exactly refuses"
        " it (invalidParams, before any backend starts).",
    )


# --- session/* -----------------------------------------------------------------------


class SessionSetupParams(Params):
    """What session/start and session/resume both take: rules, trust and tools."""

    permission_rules: list[RuleSpec] = Field(
        default_factory=list,
        description="Workspace rules (remembered answers the client keeps for this workspace).",
    )
    trusted: bool | None = Field(
        None,
        description="Whether the folder's own agent configuration (hooks, plugins, MCP servers,"
        " settings) may run. Absent: a folder that carries any is refused with"
        " untrustedWorkspace (data.files names it); false: the CLI starts with the project's"
        " configuration switched off where it allows that; true: it runs as it would without caw.",
    )
    mcp_servers: list[McpServerSpec] | None = Field(
        None,
        description="MCP servers for the session (stdio or http). On session/resume, absent: the"
        " servers recorded for the session, without their env and header values.",
    )
    tools: list[ToolGroupName] | None = Field(
        None, description="Tool groups the CLI's built-in tools are limited to (their union)."
    )
    track_changes: bool = Field(
        False,
        description="Snapshot the session's folder before and after each turn (a shadow git"
        " repository in the session's data folder; git must be installed): each turn then lists"
        " its changes, and session/changes and session/revert work. On session/resume of a"
        " session live in this daemon: not applied.",
    )


class StartParams(SessionSetupParams):
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
    attachments: list[Attachment] = Field(
        default_factory=list,
        description="Files, ranges and selections sent with the message (ACP content blocks):"
        " resource_link {uri: file:///abs/path, name?} (the daemon reads the file) or resource"
        " {resource: {uri, text}} (embedded). A range is the URI fragment #L12-L20 (1-based,"
        " inclusive). The turn records each one's uri and name, not its content; a bad one"
        " (not a file, unreadable, over 1 MiB, binary) is refused with invalidParams naming it.",
    )


class SendResult(CawModel):
    turn: Turn
    resume_handle: str | None = Field(
        None,
        description="The session's resume handle (a credential: store it like one). Present from the first answer on.",
    )


class ResumeParams(SessionSetupParams):
    handle: str | None = Field(None, description="A resume handle, as returned by session/send.")
    session_id: str | None = Field(
        None, description="A bare session id; works when the daemon's data dir has the session."
    )
    cwd: str | None = None
    permission_mode: PermissionMode | None = Field(
        None, description="Default: the daemon's. Not applied to a session live in this daemon."
    )
    wait: bool = Field(
        False,
        description="Answer once the session's backend has started (its start errors are this"
        " request's). Default: the backend starts in the background and a session/send that"
        " comes before it is up waits for it (and gets its errors).",
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
    reasoning: str | None = Field(
        None, description="The reasoning effort (null: the CLI's default)."
    )
    cwd: str | None = None
    title: str = Field(
        "",
        description="Short (at most 60 characters): from the first exchange, or as renamed.",
    )
    created_at: datetime
    updated_at: datetime
    last_activity: datetime = Field(
        description="When the last turn ended (else when the session was created)."
    )
    num_turns: int = 0
    turn_count: int = Field(0, description="Turns recorded, failed and cancelled ones included.")
    total_cost_usd: float | None = Field(
        None, description="The turns' costs added up (null: no turn has a cost)."
    )
    live: bool = Field(description="Registered in this daemon right now.")
    corrupted: str | None = Field(
        None,
        description="Set when the session's trajectory.json cannot be read: why. Listed without"
        " its turns; session/resume continues it from the backend's own history.",
    )


class RenameParams(Params):
    session_id: str
    title: str = Field(min_length=1, max_length=200, pattern=r"\S")


class DeleteResult(CawModel):
    """``session/delete``'s answer: empty."""


class ListResult(CawModel):
    sessions: list[SessionInfo]


class HealthParams(Params):
    live: bool = Field(
        False, description="Also send each installed CLI one short probe turn (costs a request)."
    )
    providers: list[str] | None = Field(None, description="Only these providers (default: all).")


class HealthResult(CawModel):
    providers: list[ProviderHealthInfo]


# --- review and revert, models, configure ---------------------------------------------


class TurnRef(Params):
    session_id: str
    turn: int = Field(ge=1, description="The turn's number, from 1 (its index + 1).")


class ChangedFileInfo(CawModel):
    """A file the turn changed, with its text before and after (``caw.changes.ChangedFile``)."""

    path: str = Field(description="Relative to the session's cwd.")
    status: ChangeStatus
    before: str | None = Field(description="null: the file did not exist (or is binary).")
    after: str | None = Field(description="null: the turn deleted it (or it is binary).")
    binary: bool = False


class ChangesResult(CawModel):
    changes: list[ChangedFileInfo]


class RevertResult(CawModel):
    reverted: list[str] = Field(description="The paths restored, relative to the session's cwd.")


class ModelsParams(Params):
    provider: str | None = Field(None, description="One provider (default: every installed one).")
    cwd: str | None = Field(
        None,
        description="The folder whose CLI configuration counts (opencode). Default: the daemon's.",
    )


class ProviderModels(ModelList):
    error: str | None = Field(
        None, description="Why this provider's list is empty (its CLI could not list them)."
    )


class ModelsResult(CawModel):
    providers: list[ProviderModels]


class ConfigureParams(Params):
    session_id: str
    model: str | None = Field(None, description="The model from the next turn on.")
    reasoning: str | None = Field(None, description="The reasoning effort from the next turn on.")


# --- notifications -------------------------------------------------------------------


class SessionUpdate(CawModel):
    """``session/update``: one streamed event of the running turn, before session/send answers."""

    session_id: str
    update: Event


class SessionDidChange(CawModel):
    """``session/didChange``: a session in the data dir appeared, changed or was removed."""

    session_id: str


#: method -> (params model, result model or None, one line of documentation)
METHODS: dict[str, tuple[type[Params], type[CawModel] | None, str]] = {
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
    "session/rename": (
        RenameParams,
        SessionInfo,
        "Give a session a new title (stored in its data dir folder).",
    ),
    "session/delete": (
        SessionRef,
        DeleteResult,
        "End the session if it is live and remove its data dir folder (ask the user first).",
    ),
    "caw/health": (
        HealthParams,
        HealthResult,
        "Each CLI's health as caw doctor reports it; live probes with one turn each.",
    ),
    "session/changes": (
        TurnRef,
        ChangesResult,
        "The files a turn changed, each with its text before and after (trackChanges).",
    ),
    "session/revert": (
        TurnRef,
        RevertResult,
        "Put a turn's files back as they were before it; filesChangedSince if one changed since.",
    ),
    "providers/models": (
        ModelsParams,
        ModelsResult,
        "Each provider's models and reasoning levels, as its CLI lists them (claude: aliases).",
    ),
    "session/configure": (
        ConfigureParams,
        SessionInfo,
        "Change a live session's model or reasoning from its next turn on.",
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
