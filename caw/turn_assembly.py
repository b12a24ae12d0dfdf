"""Folding a turn's event stream into its output blocks, in time linear in the answer's size."""

from __future__ import annotations

from .events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from .models import TextBlock, ThinkingBlock, ToolUseBlock, Turn

_Streamed = TextBlock | ThinkingBlock


class TurnAssembler:
    """Folds a turn's events into its output blocks as they arrive.

    The streamed text of the open block is kept as a list of chunks and joined once, when the
    block closes (a tool call starts a new block) or the turn is finished: appending to a ``str``
    copies it whole, which made a long answer quadratic (1 MB in 20-character deltas: 8 s).
    Call :meth:`finish` before reading ``turn.output``.
    """

    def __init__(self, turn: Turn):
        self.turn = turn
        self._tools: dict[str, ToolUseBlock] = {}
        self._open: _Streamed | None = None  # the last block of the output, still streaming
        self._chunks: list[str] = []

    def add(self, event: Event) -> None:
        if isinstance(event, (TextDelta, ThinkingDelta)):
            self._add_text(event)
        elif isinstance(event, ToolCall):
            block = ToolUseBlock(
                id=event.id, name=event.name, input=event.input,
                locations=event.locations, diff=event.diff,
            )  # fmt: skip
            self._tools[event.id] = block
            self._append(block)
        elif isinstance(event, ToolResult):
            known = self._tools.get(event.id)
            if known is None:  # a result whose call we never saw still belongs in the record
                known = ToolUseBlock(id=event.id, name="")
                self._tools[event.id] = known
                self._append(known)
            known.output, known.is_error = event.output, event.is_error
        elif isinstance(event, UsageUpdate):
            self.turn.usage = event.usage

    def finish(self) -> Turn:
        """Join the open block's text; the turn's output is complete from here on."""
        self._close()
        return self.turn

    def _add_text(self, event: TextDelta | ThinkingDelta) -> None:
        output = self.turn.output
        if event.replace:
            # The CLI retried a response that broke off: what that one streamed is void.
            self._open, self._chunks = None, []
            while output and not isinstance(output[-1], ToolUseBlock):
                output.pop()
            if not event.text:
                return
        kind: type[_Streamed] = TextBlock if isinstance(event, TextDelta) else ThinkingBlock
        if type(self._open) is not kind:
            block = kind(text="")
            self._append(block)
            self._open = block
        self._chunks.append(event.text)

    def _append(self, block: TextBlock | ThinkingBlock | ToolUseBlock) -> None:
        self._close()
        self.turn.output.append(block)

    def _close(self) -> None:
        if self._open is not None:
            self._open.text = "".join(self._chunks)
            self._open, self._chunks = None, []
