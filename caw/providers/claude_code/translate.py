"""claude's wire -> caw events: stream-json partials (``stream_event``), whole ``assistant``
and ``user`` messages, and the ``result`` line's usage."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult
from ...models import Location, Usage
from ...permissions.diffs import edit_diff, first_changed_line

# Tools whose call is held back until claude reports the edit done (``tool_use_result``
# carries the file as it was), so the call's diff is exact: read beforehand, the file may
# already hold the edit (claude runs the tool as soon as it has printed the call).
EDIT_TOOLS = ("Edit", "MultiEdit", "Write")


def tool_result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def usage_of(
    result: Mapping[str, Any], cost: float | None, context_tokens: int | None = None
) -> Usage:
    """A ``result`` line's usage; ``context_tokens``: the last main-agent call's (from its
    ``assistant`` line), the window from ``modelUsage`` (the model that read the most)."""
    u = result.get("usage") or {}
    models = [m for m in (result.get("modelUsage") or {}).values() if isinstance(m, Mapping)]
    main = max(
        models,
        key=lambda m: int(m.get("inputTokens") or 0) + int(m.get("cacheReadInputTokens") or 0),
        default={},
    )
    window = main.get("contextWindow")
    return Usage(
        input_tokens=int(u.get("input_tokens") or 0),
        output_tokens=int(u.get("output_tokens") or 0),
        cache_read_tokens=int(u.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(u.get("cache_creation_input_tokens") or 0),
        cost_usd=cost,
        context_tokens=context_tokens,
        context_window=window if isinstance(window, int) and window > 0 else None,
    )


def context_tokens_of(assistant: Mapping[str, Any]) -> int | None:
    """The tokens in the model's context after this ``assistant`` message (its request plus
    its answer), None when the line has no usage."""
    # Odd shapes (a message or usage that is not an object) count as no usage: a translator
    # skips what it does not understand rather than failing the turn (issue 21, finding 2).
    message = assistant.get("message")
    u = message.get("usage") if isinstance(message, Mapping) else None
    if not isinstance(u, Mapping):
        return None
    names = (
        "input_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "output_tokens",
    )
    total = sum(_int(u.get(name)) for name in names)
    return total or None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class TurnTranslator:
    """Folds one turn's ``stream_event``, ``assistant`` and ``user`` lines into caw events."""

    def __init__(self) -> None:
        self._streamed: set[str] = set()  # message ids whose text arrived as deltas
        self._current_message: str | None = None
        self._seen_tools: set[str] = set()
        self._held: dict[str, ToolCall] = {}  # edit calls waiting for their result
        # A message that streamed text but has no full `assistant` line yet. If another message
        # begins first, the stream broke off and claude retried: the partial text is void.
        self._partial: str | None = None

    def events(self, line: Mapping[str, Any]) -> Iterator[Event]:
        kind = line.get("type")
        if kind == "stream_event":
            yield from self._stream_event(line.get("event") or {})
        elif kind == "assistant":
            yield from self._assistant(line.get("message") or {})
        elif kind == "user":
            for block in (line.get("message") or {}).get("content") or []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    held = self._held.pop(str(block.get("tool_use_id")), None)
                    if held is not None:
                        yield with_edit_result(held, line.get("tool_use_result"))
                    yield ToolResult(
                        id=block.get("tool_use_id", ""),
                        output=tool_result_text(block.get("content")),
                        is_error=bool(block.get("is_error")),
                    )

    def _stream_event(self, event: Mapping[str, Any]) -> Iterator[Event]:
        etype = event.get("type")
        if etype == "message_start":
            self._current_message = (event.get("message") or {}).get("id")
            if self._partial is not None and self._partial != self._current_message:
                self._partial = None
                yield TextDelta(text="", replace=True)
        elif etype == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                self._streaming()
                yield TextDelta(text=delta["text"])
            elif delta.get("type") == "thinking_delta" and delta.get("thinking"):
                self._streaming()
                yield ThinkingDelta(text=delta["thinking"])

    def _streaming(self) -> None:
        if self._current_message:
            self._streamed.add(self._current_message)
            self._partial = self._current_message

    def _assistant(self, message: Mapping[str, Any]) -> Iterator[Event]:
        was_streamed = message.get("id") in self._streamed
        if self._partial is not None and self._partial != message.get("id"):
            yield TextDelta(text="", replace=True)  # claude retried without streaming
        self._partial = None
        for block in message.get("content") or []:
            btype = block.get("type")
            if btype == "tool_use" and block.get("id") not in self._seen_tools:
                self._seen_tools.add(block.get("id"))
                call = ToolCall(
                    id=block.get("id", ""),
                    name=block.get("name", ""),
                    input=block.get("input") or {},
                )
                call.locations = locations_of(call.input)
                if call.name in EDIT_TOOLS and call.locations:
                    self._held[call.id] = call
                else:
                    yield call
            elif btype == "text" and not was_streamed and block.get("text"):
                yield TextDelta(text=block["text"])
            elif btype == "thinking" and not was_streamed and block.get("thinking"):
                yield ThinkingDelta(text=block["thinking"])

    def flush(self) -> list[Event]:
        """Edit calls whose result never came (the turn stopped first), without a diff."""
        held: list[Event] = list(self._held.values())
        self._held = {}
        return held


def locations_of(tool_input: Mapping[str, Any]) -> list[Location]:
    """The file a claude tool's input names (``file_path``, ``notebook_path``), with the
    line ``Read`` starts at."""
    path = tool_input.get("file_path") or tool_input.get("notebook_path")
    if not isinstance(path, str) or not path:
        return []
    offset = tool_input.get("offset")
    line = offset if isinstance(offset, int) and offset > 0 else None
    return [Location(path=path, line=line)]


def with_edit_result(call: ToolCall, result: Any) -> ToolCall:
    """``call`` with the diff of the edit claude reports in ``tool_use_result``
    (``originalFile``: the text before; None for a new file). A failed or refused edit
    reports no such object: the call keeps its location only."""
    if not isinstance(result, Mapping) or "originalFile" not in result:
        return call
    before = result.get("originalFile")
    path = call.locations[0].path
    diff = edit_diff(call.name, call.input, path, before if isinstance(before, str) else None)
    if diff is None:
        return call
    if call.name == "Write" and isinstance(result.get("content"), str):
        diff.new_text = result["content"]
    line = first_changed_line(diff)
    return call.model_copy(update={"diff": diff, "locations": [Location(path=path, line=line)]})
