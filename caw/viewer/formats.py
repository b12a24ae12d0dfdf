"""One read-only view over the trajectory files caw can meet: its own and caw 0.1.9's.

Ours (``trajectory.json`` in a data dir) is camelCase with tool blocks carrying ``input``;
0.1.9's is snake_case with tool blocks carrying ``arguments``, usage per turn and, on a tool
block, an optional ``subagent_trajectory`` (a whole nested trajectory). Both are read into
the same small dataclasses, key by key, so neither format's extra fields get in the way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class TrajectoryFormatError(ValueError):
    """The file is not a trajectory this viewer can read."""


@dataclass
class UsageView:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def __add__(self, other: UsageView) -> UsageView:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return UsageView(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            cost,
        )


@dataclass
class ToolView:
    id: str
    name: str
    input: dict[str, Any]
    output: str | None
    is_error: bool = False
    subagent: TrajectoryView | None = None


@dataclass
class BlockView:
    kind: str  # "text" | "thinking" | "tool"
    text: str = ""
    tool: ToolView | None = None


@dataclass
class TurnView:
    index: int
    input: str
    blocks: list[BlockView]
    usage: UsageView
    duration_ms: int
    stop_reason: str = "end_turn"
    error: str | None = None
    started_at: str | None = None

    @property
    def result(self) -> str:
        for block in reversed(self.blocks):
            if block.kind == "text" and block.text.strip():
                return block.text
        return ""

    @property
    def tools(self) -> list[ToolView]:
        return [b.tool for b in self.blocks if b.tool is not None]


@dataclass
class TrajectoryView:
    format: str  # "caw" | "caw-0.1.9"
    agent: str
    model: str | None
    session_id: str
    turns: list[TurnView]
    cwd: str | None = None
    created_at: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def usage(self) -> UsageView:
        total = UsageView()
        for turn in self.turns:
            total = total + turn.usage
        return total

    @property
    def total_usage(self) -> UsageView:
        """Own usage plus every nested subagent's, recursively."""
        total = self.usage
        for turn in self.turns:
            for tool in turn.tools:
                if tool.subagent is not None:
                    total = total + tool.subagent.total_usage
        return total

    @property
    def duration_ms(self) -> int:
        return sum(t.duration_ms for t in self.turns)

    @property
    def title(self) -> str:
        if isinstance(self.metadata.get("title"), str):
            return str(self.metadata["title"])
        first = " ".join(self.turns[0].input.split()) if self.turns else ""
        return first[:60] + ("…" if len(first) > 60 else "")


def _error_text(error: Any) -> str | None:
    """A turn's error: caw's ``{kind, message}`` or an older bare string."""
    if isinstance(error, dict):
        return _text(error.get("message")) or None
    return error if isinstance(error, str) and error else None


def _get(d: dict[str, Any], snake: str, default: Any = None) -> Any:
    """``d[snake]`` or its camelCase twin."""
    if snake in d:
        return d[snake]
    head, *rest = snake.split("_")
    camel = head + "".join(part.title() for part in rest)
    return d.get(camel, default)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(d: Any) -> UsageView:
    if not isinstance(d, dict):
        return UsageView()
    cost = _get(d, "cost_usd")
    return UsageView(
        _int(_get(d, "input_tokens")), _int(_get(d, "output_tokens")),
        _int(_get(d, "cache_read_tokens")), _int(_get(d, "cache_write_tokens")),
        float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    )  # fmt: skip


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _block(d: Any, depth: int) -> BlockView | None:
    if not isinstance(d, dict):
        return None
    kind = d.get("type")
    if kind in ("text", "thinking"):
        return BlockView(kind=kind, text=_text(d.get("text")))
    if kind == "tool_use":
        args = d.get("input", d.get("arguments"))
        sub = _get(d, "subagent_trajectory")
        output = d.get("output")
        return BlockView(
            kind="tool",
            tool=ToolView(
                id=_text(d.get("id")), name=_text(d.get("name")),
                input=args if isinstance(args, dict) else {"value": args} if args else {},
                output=None if output is None else _text(output),
                is_error=bool(_get(d, "is_error", False)),
                subagent=read_view(sub, depth + 1) if isinstance(sub, dict) else None,
            ),
        )  # fmt: skip
    return None


def read_view(data: dict[str, Any], depth: int = 0) -> TrajectoryView:
    """A trajectory from its parsed JSON, in either format."""
    if depth > 20:
        raise TrajectoryFormatError("subagent trajectories nest more than 20 deep")
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise TrajectoryFormatError("not a trajectory: a JSON object with a 'turns' list is needed")
    legacy = "sessionId" not in data and (
        "total_usage" in data or "usage_limited" in data or "session_id" in data
    )
    turns = []
    for i, t in enumerate(data["turns"]):
        if not isinstance(t, dict):
            continue
        blocks = [b for b in (_block(x, depth) for x in t.get("output") or []) if b is not None]
        turns.append(
            TurnView(
                index=_int(t.get("index")) if "index" in t else i, input=_text(t.get("input")),
                blocks=blocks, usage=_usage(t.get("usage")), duration_ms=_int(_get(t, "duration_ms")),
                stop_reason=_text(_get(t, "stop_reason", "end_turn")),
                error=_error_text(_get(t, "error")) or _get(t, "failure_reason"),
                started_at=_get(t, "started_at"),
            )
        )  # fmt: skip
    metadata = data.get("metadata")
    return TrajectoryView(
        format="caw-0.1.9" if legacy else "caw", agent=_text(data.get("agent")),
        model=_get(data, "model") or None, session_id=_text(_get(data, "session_id", "")),
        turns=turns, cwd=_get(data, "cwd"), created_at=_get(data, "created_at") or None,
        metadata=metadata if isinstance(metadata, dict) else {},
    )  # fmt: skip


def load_view(path: Path) -> TrajectoryView:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrajectoryFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TrajectoryFormatError(f"{path} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TrajectoryFormatError(f"{path} is not JSON: {exc}") from None
    return read_view(data)
