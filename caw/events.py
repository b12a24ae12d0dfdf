"""The normalized event stream every provider adapter emits while a turn runs.

Adapters turn their CLI's wire into these; the session core assembles them into
a :class:`~caw.models.Turn`, and the daemon forwards them as ``session/update``
notifications unchanged (``kind`` is the discriminator on the wire too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from .models import CawModel, FileDiff, Location, Usage
from .permissions.models import PermissionRequest

_REPLACE = (
    "True when the model's answer starts afresh (the CLI retried a response that broke off "
    "mid-stream): the text and thinking streamed since the last tool call are void."
)


class TextDelta(CawModel):
    kind: Literal["text"] = "text"
    text: str
    replace: bool = Field(False, description=_REPLACE)


class ThinkingDelta(CawModel):
    kind: Literal["thinking"] = "thinking"
    text: str
    replace: bool = Field(False, description=_REPLACE)


class ToolCall(CawModel):
    """A tool call. A file edit's call is emitted once the edit is done, with its ``diff``
    (read from what the CLI reports, so the old text is the file's before the edit)."""

    kind: Literal["toolCall"] = "toolCall"
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    locations: list[Location] = Field(
        default_factory=list, description="The files the call touches (ACP ToolCallLocation)."
    )
    diff: FileDiff | None = Field(
        None,
        description="For a file edit: the file's text before (null: a new file) and after."
        " An edit of several files at once (a codex patch) carries the first; the turn's"
        " changes list them all.",
    )


class ToolResult(CawModel):
    kind: Literal["toolResult"] = "toolResult"
    id: str
    output: str = ""
    is_error: bool = False


class UsageUpdate(CawModel):
    """The turn's usage so far (not cumulative over the session)."""

    kind: Literal["usage"] = "usage"
    usage: Usage


class SubagentUpdate(CawModel):
    """An event of a subagent's turn (a child caw session the parent called as a tool),
    streamed through the parent's turn. Not part of the parent's own output: the child's
    whole trajectory is on the parent's tool-use block once the turn is recorded."""

    kind: Literal["subagent"] = "subagent"
    agent: str = Field(description="The subagent's name (its AgentSpec.name).")
    provider: str
    update: Event


class UsageLimitWait(CawModel):
    """The turn hit the provider's usage limit and auto-wait is on: caw waits until the limit
    resets, then sends the turn again (``session/cancel`` ends the wait). Comes between turns'
    events, never part of a turn's output."""

    kind: Literal["usageLimitWait"] = "usageLimitWait"
    wait_minutes: int = Field(description="How long caw waits before sending the turn again.")
    resets_at: datetime = Field(description="When the wait ends (UTC): the reset time + a margin.")
    message: str = Field("", description="What the CLI said about the limit.")


Event = Annotated[
    TextDelta
    | ThinkingDelta
    | ToolCall
    | ToolResult
    | UsageUpdate
    | PermissionRequest
    | SubagentUpdate
    | UsageLimitWait,
    Field(discriminator="kind"),
]
EVENT_TYPES = (
    TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate, PermissionRequest, SubagentUpdate,
    UsageLimitWait,
)  # fmt: skip
SubagentUpdate.model_rebuild()
