"""What opencode is given: ids in its format, permission rules, reasoning variants, settings."""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Mapping
from typing import Any

KEY_RE = re.compile(
    r"ses_[A-Za-z0-9]+"
)  # used with fullmatch: "$" would let a trailing newline through
MODE_ENV = "CAW_OPENCODE_MODE"  # auto (default) | serve | run
START_TIMEOUT_ENV = "CAW_OPENCODE_START_TIMEOUT"

DENY_MESSAGE = "Denied: this caw session runs with permission_mode='deny', so tools that need approval are refused."
# Tools that only read stay usable in deny mode (as with claude's default permissions).
READ_ONLY_TOOLS = ("read", "glob", "grep", "list", "todoread", "todowrite")
REASONING_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_last_ms = 0
_counter = 0


def new_id(prefix: str) -> str:
    """An id in opencode's own ascending format (time-ordered hex, then random base62)."""
    global _last_ms, _counter
    now = int(time.time() * 1000)
    if now != _last_ms:
        _last_ms, _counter = now, 0
    _counter += 1
    stamp = (now * 0x1000 + _counter) % (1 << 48)
    return f"{prefix}_{stamp:012x}" + "".join(secrets.choice(_BASE62) for _ in range(14))


def permission_rules(mode: str) -> list[dict[str, str]]:
    """Session permission rules (the last matching rule wins in opencode)."""
    if mode == "bypass":
        return [{"permission": "*", "pattern": "*", "action": "allow"}]
    # "ask" (not "deny"): the tool stays offered and each call is refused with a reason the model sees.
    return [{"permission": "*", "pattern": "*", "action": "ask"}] + [
        {"permission": tool, "pattern": "*", "action": "allow"} for tool in READ_ONLY_TOOLS
    ]


def closest_variant(requested: str, variants: list[str]) -> str | None:
    """The model's variant nearest to the requested reasoning level (ties go to the lower one)."""
    if requested in variants:
        return requested
    if requested not in REASONING_LEVELS:
        return requested  # a provider-specific name: opencode ignores unknown variants
    ranked = [v for v in variants if v in REASONING_LEVELS]
    if not ranked:
        return None
    want = REASONING_LEVELS.index(requested)
    return min(
        ranked, key=lambda v: (abs(REASONING_LEVELS.index(v) - want), REASONING_LEVELS.index(v))
    )


def float_env(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name) or default)
    except ValueError:
        return default


# The title caw gives the opencode sessions it creates. Any title other than opencode's
# default ("New session - <time>") makes opencode skip its title request: a second model
# request on every new session's first prompt (a new chat's first answer took 1.5-2.4x a
# warm turn with it, 1.0x without; issue 20). caw names the session itself after the first
# turn, from the first message (caw.titles), as it names its own record of the session.
UNTITLED = "caw session"


def serve_defaults(config: dict[str, Any]) -> None:
    """caw's defaults in serve's ``OPENCODE_CONFIG_CONTENT``; a key the user's own sets wins.

    ``snapshot``: off. opencode snapshots the work tree into a git repository of its own at
    every step of every turn, for its own undo; caw never uses it (caw's review and revert
    are caw.changes' snapshots, ``track_changes``), and in a git work tree of 2,000 files
    it made each turn ~2.7x slower (a warm turn 309 ms with it, 113 ms without; issue 20).
    Set ``{"snapshot": true}`` in the session's ``OPENCODE_CONFIG_CONTENT`` to keep it.
    """
    config.setdefault("snapshot", False)
