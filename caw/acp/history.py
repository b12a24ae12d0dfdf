"""A stored trajectory as the ``session/update``s that ``session/load`` replays."""

from __future__ import annotations

from collections.abc import Iterator

from ..events import ToolCall
from ..models import TextBlock, ThinkingBlock, ToolUseBlock, Trajectory
from .updates import SessionUpdate, text_chunk, tool_call_done, tool_call_start


def replay(trajectory: Trajectory) -> Iterator[SessionUpdate]:
    """Each turn: the user's message, then the agent's text, thoughts and tool calls in order."""
    for turn in trajectory.turns:
        yield text_chunk("user", turn.input)
        for block in turn.output:
            if isinstance(block, TextBlock) and block.text:
                yield text_chunk("agent", block.text)
            elif isinstance(block, ThinkingBlock) and block.text:
                yield text_chunk("thought", block.text)
            elif isinstance(block, ToolUseBlock):
                call = ToolCall(
                    id=block.id, name=block.name, input=block.input,
                    locations=block.locations, diff=block.diff,
                )  # fmt: skip
                if block.output is None:  # the turn ended before the tool answered
                    yield tool_call_start(call, status="failed")
                else:
                    yield tool_call_start(call, status="completed")
                    yield tool_call_done(block.id, block.output, block.is_error, block.diff)
