"""The conversation record: blocks, usage, turns and trajectories.

These pydantic models are the one source of truth for the disk format
(``trajectory.json``), the daemon's wire format and the published JSON Schema.
Field names are snake_case in Python and camelCase on the wire (aliases), so the
same model serves Python users and JSON-RPC clients.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    computed_field,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .titles import title_from_message


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CawModel(BaseModel):
    """Base for every caw model: camelCase on the wire, snake_case in Python."""

    # Schemas are built on first use, not at import: a cold caw-server answers initialize
    # sooner (caw_server.startup builds the rest once it has).
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Usage(CawModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None
    #: Tokens in the model's context after the turn (its last request and answer), when known.
    context_tokens: int | None = None
    #: The model's context window in tokens, when the CLI reports it.
    context_window: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        """Input plus output tokens; cache reads and writes are counted apart (as caw 0.1.9)."""
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        """caw 0.1.9's dict shape (snake_case; an unknown cost is 0.0 there)."""
        return {
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens, "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd or 0.0,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Usage:
        return cls.model_validate(data)

    def __add__(self, other: Usage) -> Usage:
        return Usage.total((self, other))

    @staticmethod
    def total(usages: Iterable[Usage]) -> Usage:
        """The sum of ``usages`` in order, built once (a session's total is on every turn's
        path to disk, and a Usage per addition cost 2 µs a turn, issue 20)."""
        tokens = [0, 0, 0, 0]
        cost: float | None = None
        context_tokens: int | None = None
        context_window: int | None = None
        for usage in usages:
            tokens[0] += usage.input_tokens
            tokens[1] += usage.output_tokens
            tokens[2] += usage.cache_read_tokens
            tokens[3] += usage.cache_write_tokens
            if usage.cost_usd is not None:
                cost = (cost or 0.0) + usage.cost_usd
            # the context is a state, not a sum: the later figure stands
            context_tokens = _later(context_tokens, usage.context_tokens)
            context_window = _later(context_window, usage.context_window)
        return Usage(
            input_tokens=tokens[0], output_tokens=tokens[1],
            cache_read_tokens=tokens[2], cache_write_tokens=tokens[3], cost_usd=cost,
            context_tokens=context_tokens, context_window=context_window,
        )  # fmt: skip


def _later(first: int | None, second: int | None) -> int | None:
    return second if second is not None else first


class TextBlock(CawModel):
    type: Literal["text"] = "text"
    text: str


class ThinkingBlock(CawModel):
    type: Literal["thinking"] = "thinking"
    text: str


class Location(CawModel):
    """A file a tool touches (ACP ``ToolCallLocation``)."""

    path: str
    line: int | None = Field(None, description="1-based, when the tool names a line.")


class FileDiff(CawModel):
    """One file's change (ACP ``diff`` tool-call content): ``old_text`` None for a new file."""

    type: Literal["diff"] = "diff"
    path: str
    old_text: str | None = None
    new_text: str


class ToolUseBlock(CawModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    # caw 0.1.9 wrote a tool's input as "arguments": both are read.
    input: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("input", "arguments")
    )
    output: str | None = None
    is_error: bool = False
    #: The files the call touches, and for a file edit its diff (caw.events.ToolCall).
    locations: list[Location] = Field(default_factory=list)
    diff: FileDiff | None = None
    # The child session's trajectory when this call ran a subagent (caw.tools.subagents).
    subagent_trajectory: Trajectory | None = None

    @property
    def arguments(self) -> dict[str, Any]:
        """caw 0.1.9's name for ``input``."""
        return self.input


Block = Annotated[TextBlock | ThinkingBlock | ToolUseBlock, Field(discriminator="type")]

StopReason = Literal["end_turn", "cancelled", "error"]
ChangeStatus = Literal["added", "modified", "deleted"]


class FileChange(CawModel):
    """A file a turn changed (caw.changes), by its path relative to the session's folder."""

    path: str
    status: ChangeStatus


TurnStatus = Literal["completed", "failed", "cancelled"]


class TurnError(CawModel):
    """Why a turn failed: the error's kind (as the daemon's error answers name it) and message."""

    kind: str = "internal"
    message: str

    def __str__(self) -> str:
        return self.message


class AttachmentRef(CawModel):
    """An attachment as the turn records it: where it came from, never its content."""

    uri: str
    name: str


class Turn(CawModel):
    """One exchange: the user's input and everything the agent produced for it."""

    index: int = 0
    input: str
    output: list[Block] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    duration_ms: int = 0
    started_at: datetime = Field(default_factory=utcnow)
    stop_reason: StopReason = "end_turn"
    # Older records (and caw 0.1.9's) hold the error as a bare string: read as kind "internal".
    error: TurnError | None = None
    #: Files, ranges and selections sent with the input (caw.attachments), by URI and name.
    attachments: list[AttachmentRef] = Field(default_factory=list)
    #: Problems that did not stop the turn, such as a failed write to the data dir.
    warnings: list[str] = Field(default_factory=list)
    #: With change tracking on (caw.changes): the files of the session's folder this turn
    #: added, modified or deleted, whatever tool did it.
    changes: list[FileChange] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def result(self) -> str:
        """The last non-empty text the agent produced ("" if none)."""
        for block in reversed(self.output):
            if isinstance(block, TextBlock) and block.text.strip():
                return block.text
        return ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> TurnStatus:
        """completed, failed (``error`` says why) or cancelled; records without one: completed."""
        if self.stop_reason == "error":
            return "failed"
        return "cancelled" if self.stop_reason == "cancelled" else "completed"

    @model_validator(mode="before")
    @classmethod
    def _error_string(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            message = data["error"]
            data = {**data, "error": {"kind": "internal", "message": message} if message else None}
        return data

    @property
    def tool_calls(self) -> list[ToolUseBlock]:
        return [b for b in self.output if isinstance(b, ToolUseBlock)]

    @property
    def failed(self) -> bool:
        return self.stop_reason == "error"

    @property
    def failure_reason(self) -> str | None:
        return self.error.message if self.failed and self.error is not None else None

    @property
    def usage_limited(self) -> bool:
        if not self.failed or self.error is None:
            return False
        return self.error.kind == "usageLimit" or "usage limit" in self.error.message.lower()

    def to_dict(self) -> dict[str, Any]:
        """caw 0.1.9's dict shape (tool input as ``arguments``)."""
        return {
            "input": self.input,
            "output": [_block_dict(b) for b in self.output],
            "usage": self.usage.to_dict(),
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls.model_validate(data)


def _block_dict(block: TextBlock | ThinkingBlock | ToolUseBlock) -> dict[str, Any]:
    if isinstance(block, ToolUseBlock):
        out: dict[str, Any] = {
            "type": "tool_use", "id": block.id, "name": block.name,
            "arguments": block.input, "output": block.output or "",
        }  # fmt: skip
        if block.is_error:
            out["is_error"] = True
        return out
    return {"type": block.type, "text": block.text}


class Trajectory(CawModel):
    """A whole session as caw recorded it."""

    agent: str
    model: str | None = None
    session_id: str
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    system_prompt: str | None = None
    cwd: str | None = None
    turns: list[Turn] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The session's MCP servers and Python tool servers, secrets left out (caw.tools).
    mcp_servers: list[dict[str, Any]] = Field(default_factory=list)
    #: The session's title: from its first exchange (caw.titles), or as the user renamed it.
    session_title: str | None = None
    #: The reasoning effort the session runs with (None: the CLI's default).
    reasoning_effort: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def num_turns(self) -> int:
        return len(self.turns)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def usage(self) -> Usage:
        return Usage.total(turn.usage for turn in self.turns)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_ms(self) -> int:
        return sum(turn.duration_ms for turn in self.turns)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def result(self) -> str:
        return self.turns[-1].result if self.turns else ""

    @model_validator(mode="wrap")
    @classmethod
    def _read_legacy(cls, data: Any, handler: ModelWrapValidatorHandler[Trajectory]) -> Trajectory:
        """Also read caw 0.1.9's trajectory.json: "" for unknown times and names, turns
        without an index, the reasoning effort on the record."""
        reasoning = None
        if isinstance(data, dict) and not isinstance(data.get("turns", []), str):
            data = dict(data)
            for key in ("completed_at", "created_at", "model", "system_prompt"):
                if data.get(key) == "":
                    del data[key]
            reasoning = data.get("reasoning")
            turns = data.get("turns")
            if isinstance(turns, list):
                data["turns"] = [
                    {**t, "index": i} if isinstance(t, dict) and "index" not in t else t
                    for i, t in enumerate(turns)
                ]
        trajectory = handler(data)
        if isinstance(reasoning, str) and reasoning:
            trajectory.reasoning = reasoning
        return trajectory

    @property
    def reasoning(self) -> str:
        """caw 0.1.9's name for ``reasoning_effort`` ("" when unset)."""
        return self.reasoning_effort or ""

    @reasoning.setter
    def reasoning(self, value: str | None) -> None:
        self.reasoning_effort = value or None

    @property
    def usage_limited(self) -> bool:
        """Whether the session's last turn stopped on a usage limit."""
        return bool(self.turns) and self.turns[-1].usage_limited

    @property
    def is_usage_limited(self) -> bool:
        return self.usage_limited

    @property
    def total_tool_calls(self) -> int:
        return sum(len(turn.tool_calls) for turn in self.turns)

    @property
    def subagent_trajectories(self) -> list[Trajectory]:
        return [
            tool.subagent_trajectory
            for turn in self.turns
            for tool in turn.tool_calls
            if tool.subagent_trajectory is not None
        ]

    @property
    def total_usage(self) -> Usage:
        """This session's usage plus every nested subagent's."""
        total = self.usage
        for sub in self.subagent_trajectories:
            total = total + sub.total_usage
        return total

    @property
    def is_complete(self) -> bool:
        """Ended (``completed_at`` set) and not stopped by a usage limit."""
        return self.completed_at is not None and not self.usage_limited

    @property
    def failed_turns(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.failed]

    @property
    def ended_on_failure(self) -> bool:
        return bool(self.turns) and self.turns[-1].failed

    @property
    def failure_reason(self) -> str | None:
        return self.turns[-1].failure_reason if self.turns else None

    def to_dict(self) -> dict[str, Any]:
        """caw 0.1.9's dict shape (snake_case, empty strings for unknowns)."""
        return {
            "agent": self.agent, "model": self.model or "", "session_id": self.session_id,
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else "",
            "usage_limited": self.usage_limited, "system_prompt": self.system_prompt or "",
            "reasoning": self.reasoning, "mcp_servers": list(getattr(self, "mcp_servers", [])),
            "turns": [turn.to_dict() for turn in self.turns], "usage": self.usage.to_dict(),
            "total_usage": self.total_usage.to_dict(), "duration_ms": self.duration_ms,
            "metadata": self.metadata,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        """Ours or caw 0.1.9's."""
        return cls.model_validate(data)

    @property
    def title(self) -> str:
        """A short human title: the stored one (first exchange or renamed), metadata's
        ``title``, else made from the first user message (caw.titles); "" before any turn."""
        if self.session_title:
            return self.session_title
        title = self.metadata.get("title")
        if isinstance(title, str) and title.strip():
            return title
        return title_from_message(self.turns[0].input) if self.turns else ""


# caw 0.1.9's names for the same models.
UsageStats = Usage
ToolUse = ToolUseBlock
ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock
