"""What opencode is given: ids in its format, permission rules, reasoning variants, settings."""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Mapping

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


# An opencode plugin caw gives serve: the shell commands of tools (bash, the PTY API) get
# serve's password blanked (opencode's `shell.env` hook overlays the environment they
# inherit), so a tool cannot reach the server that runs it (issue 21, finding 9).
