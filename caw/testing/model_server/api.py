"""What the server needs from each model API, and the helpers their event streams share."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..script import Reply

DEFAULT_MODEL = "caw-scripted-1"

# Each event generator yields (event name, data, is_delta).  The last item is
# ("__final__", {...full object...}, False) used for non-streaming answers.
Event = tuple[str, dict[str, Any], bool]


@dataclass(frozen=True)
class ModelAPI:
    """One model API the server speaks (Anthropic Messages, OpenAI Responses)."""

    name: str  # "anthropic" | "openai", as RecordedRequest.api and caw.testing.script name it
    system_text: Callable[[dict[str, Any]], str]
    """The system prompt of a request body."""
    error_body: Callable[[int, str | None, bool], dict[str, Any]]
    """The API's error answer for (status, message or None, usage_limit)."""
    events: Callable[[Reply, str, int, dict[str, Any]], Iterator[Event]]
    """The answer's events for (reply, model, input tokens, request body)."""
    final_key: str
    """Where the whole answer sits in the ``__final__`` item."""


def count_tokens(obj: Any) -> int:
    """A plausible token count: the number of whitespace-separated words in all strings."""
    n = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, str):
            n += len(o.split())
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
    return max(n, 1)


_WORD = re.compile(r"[^ ]* |[^ ]+")  # a word with the space after it, or the last word


def split_text(text: str, fine: bool) -> list[str]:
    """Split an answer into deltas: per character when streaming slowly, else per word
    (each piece ends with its space; a regex, so a 30 MB answer splits in 0.5 s, not 5)."""
    if not text:
        return []
    if fine:
        return list(text)
    return _WORD.findall(text)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"
