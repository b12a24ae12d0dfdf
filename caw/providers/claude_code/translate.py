"""claude's wire -> caw events: stream-json partials (``stream_event``), whole ``assistant``
and ``user`` messages, and the ``result`` line's usage."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult
from ...models import Usage


def tool_result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def usage_of(result: Mapping[str, Any], cost: float | None) -> Usage:
    u = result.get("usage") or {}
    return Usage(
        input_tokens=int(u.get("input_tokens") or 0),
        output_tokens=int(u.get("output_tokens") or 0),
        cache_read_tokens=int(u.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(u.get("cache_creation_input_tokens") or 0),
        cost_usd=cost,
    )


class TurnTranslator:
    """Folds one turn's ``stream_event``, ``assistant`` and ``user`` lines into caw events."""

    def __init__(self) -> None:
        self._streamed: set[str] = set()  # message ids whose text arrived as deltas
        self._current_message: str | None = None
        self._seen_tools: set[str] = set()
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
                yield ToolCall(
                    id=block.get("id", ""),
                    name=block.get("name", ""),
                    input=block.get("input") or {},
                )
            elif btype == "text" and not was_streamed and block.get("text"):
                yield TextDelta(text=block["text"])
            elif btype == "thinking" and not was_streamed and block.get("thinking"):
                yield ThinkingDelta(text=block["thinking"])
