"""The turn assembler: linear in the answer's size (issue 21, finding 8).

The speed itself is measured in bench/ (``large_answer``); this test checks the structure that
makes it linear: a streamed block's text is built once, not copied whole on every delta.
"""

from __future__ import annotations

from typing import Any

import pytest

import caw
from caw.events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from caw.models import TextBlock, ThinkingBlock, Usage
from caw.turn_assembly import TurnAssembler


@pytest.fixture
def text_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every assignment to a text or thinking block's ``text`` (each one is a whole copy)."""
    writes: list[str] = []
    for cls in (TextBlock, ThinkingBlock):
        original = cls.__setattr__

        def counting(self: Any, name: str, value: Any, _original: Any = original) -> None:
            if name == "text":
                writes.append(value)
            _original(self, name, value)

        monkeypatch.setattr(cls, "__setattr__", counting)
    return writes


def test_a_long_stream_is_joined_once_per_block_not_copied_per_delta(text_writes):
    turn = caw.Turn(input="x")
    assembler = TurnAssembler(turn)
    deltas = 5000
    assembler.add(ThinkingDelta(text="hm"))
    for _ in range(deltas):
        assembler.add(TextDelta(text="0123456789abcdefghij"))
    assembler.add(ToolCall(id="t1", name="Bash"))
    for _ in range(deltas):
        assembler.add(TextDelta(text="k"))
    assembler.finish()
    streamed = turn.output[1]
    assert isinstance(streamed, TextBlock) and streamed.text == "0123456789abcdefghij" * deltas
    assert turn.result == "k" * deltas
    # One write per streamed block (thinking, text, text); the old assembler wrote 2 * deltas.
    assert len(text_writes) == 3, f"{len(text_writes)} whole-text writes for {2 * deltas} deltas"


def test_finish_keeps_the_folding_rules():
    turn = caw.Turn(input="x")
    assembler = TurnAssembler(turn)
    events: list[Event] = [
        TextDelta(text="void "), TextDelta(text="", replace=True), TextDelta(text="a"),
        UsageUpdate(usage=Usage(output_tokens=1)), TextDelta(text="b"),
        ToolCall(id="t1", name="Read"), TextDelta(text="c"), ToolResult(id="t1", output="ok"),
        TextDelta(text="d"), ThinkingDelta(text="t"), ToolResult(id="t9", output="orphan"),
        TextDelta(text="gone", replace=True), TextDelta(text="e"),
    ]  # fmt: skip
    for event in events:
        assembler.add(event)
    assert assembler.finish() is turn
    blocks = [(b.type, getattr(b, "text", None) or getattr(b, "output", None)) for b in turn.output]
    assert blocks == [
        ("text", "ab"), ("tool_use", "ok"), ("text", "cd"), ("thinking", "t"),
        ("tool_use", "orphan"), ("text", "gonee"),
    ]  # fmt: skip
