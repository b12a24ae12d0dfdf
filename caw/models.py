"""The conversation record: blocks, usage, turns and trajectories.

These pydantic models are the one source of truth for the disk format
(``trajectory.json``), the daemon's wire format and the published JSON Schema.
Field names are snake_case in Python and camelCase on the wire (aliases), so the
same model serves Python users and JSON-RPC clients.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.alias_generators import to_camel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CawModel(BaseModel):
    """Base for every caw model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Usage(CawModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        cost = (
            None
            if self.cost_usd is None and other.cost_usd is None
            else (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        )
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cost_usd=cost,
        )


class TextBlock(CawModel):
    type: Literal["text"] = "text"
    text: str


class ThinkingBlock(CawModel):
    type: Literal["thinking"] = "thinking"
    text: str


class ToolUseBlock(CawModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    output: str | None = None
    is_error: bool = False


Block = Annotated[TextBlock | ThinkingBlock | ToolUseBlock, Field(discriminator="type")]

StopReason = Literal["end_turn", "cancelled", "error"]


class Turn(CawModel):
    """One exchange: the user's input and everything the agent produced for it."""

    index: int = 0
    input: str
    output: list[Block] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    duration_ms: int = 0
    started_at: datetime = Field(default_factory=utcnow)
    stop_reason: StopReason = "end_turn"
    error: str | None = None
    #: Problems that did not stop the turn, such as a failed write to the data dir.
    warnings: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def result(self) -> str:
        """The last non-empty text the agent produced ("" if none)."""
        for block in reversed(self.output):
            if isinstance(block, TextBlock) and block.text.strip():
                return block.text
        return ""


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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def num_turns(self) -> int:
        return len(self.turns)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def usage(self) -> Usage:
        total = Usage()
        for turn in self.turns:
            total = total + turn.usage
        return total

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_ms(self) -> int:
        return sum(turn.duration_ms for turn in self.turns)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def result(self) -> str:
        return self.turns[-1].result if self.turns else ""

    @property
    def title(self) -> str:
        """A short human title: metadata's ``title`` or the first user message."""
        title = self.metadata.get("title")
        if isinstance(title, str):
            return title
        first = self.turns[0].input if self.turns else ""
        first = " ".join(first.split())
        return first[:60] + ("…" if len(first) > 60 else "")
