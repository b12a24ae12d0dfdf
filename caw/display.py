"""caw 0.1.9's console display and per-event logger: ``Display`` / ``DisplayMode``, the
global display (``CAW_LOG`` = ``full`` | ``short`` | ``result`` | ``off``) and ``AgentLogger``.

caw is quiet by default: with ``CAW_LOG`` unset nothing is shown (0.1.9 showed ``short``).
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable
from typing import Any, Protocol, TextIO, runtime_checkable

from .events import TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate


class DisplayMode(enum.Enum):
    FULL = "full"
    SHORT = "short"
    RESULT = "result"
    OFF = "off"


@runtime_checkable
class AgentLogger(Protocol):
    """Anything with ``info`` / ``warn`` / ``error`` taking one string."""

    def info(self, msg: str) -> Any: ...
    def warn(self, msg: str) -> Any: ...
    def error(self, msg: str) -> Any: ...


SHORT_LIMIT = 200


def _short(text: str, limit: int = SHORT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Display:
    """Renders a turn's events to a terminal stream with Rich."""

    def __init__(self, mode: DisplayMode | str = DisplayMode.SHORT, file: TextIO | None = None):
        self.mode = DisplayMode(mode) if isinstance(mode, str) else mode
        self._file = file
        self._text: list[str] = []
        self._console: Any = None

    def _print(self, *parts: Any) -> None:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self._file or sys.stderr, highlight=False)
        self._console.print(*parts)

    def on_event(self, event: Any) -> None:
        mode = self.mode
        if mode is DisplayMode.OFF:
            return
        if isinstance(event, TextDelta):
            self._text = [] if event.replace else self._text
            self._text.append(event.text)
            return
        if mode is DisplayMode.RESULT:
            return
        full = mode is DisplayMode.FULL
        if isinstance(event, ThinkingDelta) and full:
            self._print(f"[dim]thinking: {event.text}[/dim]")
        elif isinstance(event, ToolCall):
            self._flush()
            shown = str(event.input) if full else _short(str(event.input))
            self._print(f"[cyan]tool {event.name}[/cyan] {shown}")
        elif isinstance(event, ToolResult):
            shown = event.output if full else _short(event.output)
            self._print(f"[{'red' if event.is_error else 'green'}]result[/] {shown}")
        elif isinstance(event, UsageUpdate):
            pass
        elif getattr(event, "kind", "") == "usageLimitWait":
            self._print(f"[yellow]usage limit: waiting {event.wait_minutes} min[/yellow]")

    def _flush(self) -> None:
        if self._text:
            text = "".join(self._text)
            self._text = []
            if self.mode is DisplayMode.RESULT:
                from rich.panel import Panel

                self._print(Panel(text))
            else:
                self._print(text if self.mode is DisplayMode.FULL else _short(text, 2000))

    def end_turn(self) -> None:
        self._flush()


_MODES = {"full": DisplayMode.FULL, "short": DisplayMode.SHORT, "result": DisplayMode.RESULT}
_global: Display | None = None
_global_set = False


def get_global_display() -> Display | None:
    """The process's display: the one set, else one for ``CAW_LOG`` (None: quiet)."""
    global _global, _global_set
    if not _global_set:
        mode = _MODES.get(os.environ.get("CAW_LOG", "").strip().lower())
        _global = Display(mode) if mode else None
        _global_set = True
    return _global


def set_global_display(display: Display | None) -> None:
    """Use ``display`` for every session from now on; ``None`` silences it."""
    global _global, _global_set
    _global, _global_set = display, True


def _log_line(logger: Any, event: Any) -> None:
    if isinstance(event, ToolCall):
        logger.info(f"tool_call {event.name} {_short(str(event.input))}")
    elif isinstance(event, ToolResult):
        (logger.warn if event.is_error else logger.info)(f"tool_result {_short(event.output)}")
    elif isinstance(event, ThinkingDelta):
        logger.info(f"thinking {_short(event.text)}")
    elif getattr(event, "kind", "") == "usageLimitWait":
        logger.warn(f"usage limit: waiting {event.wait_minutes} min")


def event_sink(logger: Any, on_event: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """One callback for a session's events: the global display, ``logger``, ``on_event``."""
    display = get_global_display()
    if display is None and logger is None and on_event is None:
        return None

    def sink(event: Any) -> Any:
        if display is not None:
            display.on_event(event)
        if logger is not None:
            _log_line(logger, event)
        return on_event(event) if on_event is not None else None

    return sink
