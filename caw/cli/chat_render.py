"""How ``caw chat`` shows a turn as it streams: markdown, with thinking and tool calls folded.

A terminal gets the answer's markdown re-rendered live (rich); a pipe gets the plain text as
it arrives. Thinking and each tool call become one dim summary line.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from ..events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate


def one_line(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def tool_summary(call: ToolCall) -> str:
    for key in ("command", "cmd", "file_path", "filePath", "path", "pattern", "url", "description"):
        value = call.input.get(key)
        if isinstance(value, str) and value:
            return f"{call.name}({one_line(value, 70)})"
    return f"{call.name}({one_line(json.dumps(call.input, ensure_ascii=False), 70)})"


class TurnPrinter:
    """Feeds on a turn's events and prints them; ``close()`` ends the last open piece."""

    def __init__(self, console: Console):
        self.console = console
        self.live_ok = console.is_terminal
        self.text = ""
        self.thinking = 0
        self.live: Live | None = None
        self.plain_open = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, ThinkingDelta):
            self._end_text()
            self.thinking = (0 if event.replace else self.thinking) + len(event.text)
            return
        self._end_thinking()
        if isinstance(event, TextDelta):
            if event.replace:
                self.text = ""
            self.text += event.text
            if self.live_ok:
                if self.live is None:
                    self.live = Live(console=self.console, refresh_per_second=12, transient=False)
                    self.live.start()
                self.live.update(Markdown(self.text))
            else:
                self.console.out(event.text, end="", highlight=False)
                self.plain_open = True
        elif isinstance(event, ToolCall):
            self._end_text()
            self.console.print(Text(f"⏺ {tool_summary(event)}", style="cyan"), highlight=False)
        elif isinstance(event, ToolResult):
            lines = event.output.strip().splitlines()
            first = one_line(lines[0], 70) if lines else "(no output)"
            more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
            style = "red" if event.is_error else "dim"
            self.console.print(Text(f"  ⎿ {first}{more}", style=style), highlight=False)
        elif isinstance(event, UsageUpdate):
            pass

    def _end_thinking(self) -> None:
        if self.thinking:
            self.console.print(Text(f"✻ thinking ({self.thinking} characters)", style="dim italic"))
            self.thinking = 0

    def _end_text(self) -> None:
        if self.live is not None:
            self.live.update(Markdown(self.text))
            self.live.stop()
            self.live = None
        if self.plain_open:
            self.console.out("")
            self.plain_open = False
        self.text = ""

    def close(self) -> None:
        self._end_thinking()
        self._end_text()
