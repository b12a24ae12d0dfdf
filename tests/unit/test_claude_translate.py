"""claude's stream-json lines -> caw events (the shapes are trimmed from claude 2.x's output)."""

from __future__ import annotations

from typing import Any

from caw.events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult
from caw.providers.claude_code.translate import TurnTranslator, tool_result_text, usage_of


def start(message_id: str) -> dict[str, Any]:
    return {
        "type": "stream_event",
        "event": {"type": "message_start", "message": {"id": message_id}},
    }


def delta(text: str, kind: str = "text") -> dict[str, Any]:
    field = "thinking" if kind == "thinking" else "text"
    return {
        "type": "stream_event",
        "event": {"type": "content_block_delta", "delta": {"type": f"{kind}_delta", field: text}},
    }


def assistant(message_id: str, *content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "assistant", "message": {"id": message_id, "content": list(content)}}


def fold(lines: list[dict[str, Any]]) -> list[Event]:
    translator = TurnTranslator()
    return [event for line in lines for event in translator.events(line)]


def test_streamed_text_is_not_repeated_by_the_whole_message():
    assert fold([
        start("msg_1"), delta("hmm", "thinking"), delta("Hel"), delta("lo"),
        assistant("msg_1", {"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "Hello"}),
    ]) == [ThinkingDelta(text="hmm"), TextDelta(text="Hel"), TextDelta(text="lo")]  # fmt: skip


def test_tools_come_once_with_their_results():
    use = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{"type": "text", "text": "a"}],
    }
    assert fold([
        assistant("msg_1", use), assistant("msg_1", use),
        {"type": "user", "message": {"content": [result]}},
    ]) == [
        ToolCall(id="toolu_1", name="Bash", input={"command": "ls"}),
        ToolResult(id="toolu_1", output="a"),
    ]  # fmt: skip


def test_a_stream_broken_off_and_retried_voids_its_partial_text():
    assert fold([
        start("msg_1"), delta("one tw"),
        assistant("msg_2", {"type": "text", "text": "one two three"}),  # the retry, not streamed
    ]) == [TextDelta(text="one tw"), TextDelta(text="", replace=True), TextDelta(text="one two three")]  # fmt: skip
    assert fold([start("msg_1"), delta("one tw"), start("msg_2"), delta("one two three")]) == [
        TextDelta(text="one tw"), TextDelta(text="", replace=True), TextDelta(text="one two three"),
    ]  # fmt: skip


def test_usage_and_tool_result_text():
    usage = usage_of(
        {"usage": {"input_tokens": 3, "output_tokens": 5, "cache_read_input_tokens": 7, "cache_creation_input_tokens": 11}},
        0.25,
    )  # fmt: skip
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    ) == (3, 5, 7, 11)
    assert usage.cost_usd == 0.25
    assert tool_result_text(None) == "" and tool_result_text("x") == "x"
