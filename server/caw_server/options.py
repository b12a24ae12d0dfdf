"""The daemon's settings: command-line flags, overridable by ``initializationOptions``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from caw import __version__
from caw.permissions import PERMISSION_MODES, PermissionMode
from caw.providers import canonical_name
from caw.usage_limits import auto_wait_setting

from .logs import LEVELS
from .permissions import DEFAULT_TIMEOUT as DEFAULT_PERMISSION_TIMEOUT
from .transport import DEFAULT_MAX_BACKLOG, DEFAULT_MAX_FRAME


def default_data_dir() -> Path:
    return platformdirs.user_data_path("caw")


DEFAULT_MAX_SESSIONS = 64
# Standby backends per recently used (provider, cwd, options): started ahead, adopted by
# session/start (caw_server.standby).
DEFAULT_STANDBY = 1


@dataclass
class Options:
    provider: str | None = None
    data_dir: Path | None = field(default_factory=default_data_dir)
    idle_timeout: float | None = None
    turn_timeout: float | None = None
    log_level: str = "info"
    max_frame: int = DEFAULT_MAX_FRAME
    max_backlog: int = DEFAULT_MAX_BACKLOG
    # ask: no tool that needs approval runs without the client's answer (rejected when the
    # client cannot answer); bypass has to be chosen.
    permission_mode: PermissionMode = "ask"
    permission_timeout: float = DEFAULT_PERMISSION_TIMEOUT
    # Live sessions (each holds a backend, or a share of one) beyond which a start or resume
    # is refused with tooManySessions (issue 21, finding 9).
    max_sessions: int = DEFAULT_MAX_SESSIONS
    # On a usage limit, wait until it resets and send the turn again (a usageLimitWait update
    # tells the client; session/cancel ends the wait). Off unless asked: $CAW_AUTOWAIT=1, the
    # flag or initializationOptions.autoWait; off, the turn fails with kind usageLimit.
    auto_wait: bool = field(default_factory=lambda: auto_wait_setting() is True)
    standby: int = DEFAULT_STANDBY
    standby_idle: float | None = None


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _provider(text: str) -> str:
    try:
        return canonical_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="caw-server",
        description="caw's stdio JSON-RPC daemon (LSP base protocol framing). See protocol/README.md.",
    )
    p.add_argument(
        "--provider",
        type=_provider,
        help="default provider for session/start (claude_code, codex, opencode)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--data-dir", type=Path, help=f"where sessions are recorded (default: {default_data_dir()})"
    )
    where.add_argument("--no-data-dir", action="store_true", help="record nothing on disk")
    p.add_argument(
        "--idle-timeout",
        type=_positive,
        metavar="SECONDS",
        help="stop an idle session's backend after this long",
    )
    p.add_argument(
        "--turn-timeout",
        type=_positive,
        metavar="SECONDS",
        help="fail a turn that runs longer than this",
    )
    p.add_argument(
        "--permission-mode",
        choices=list(PERMISSION_MODES),
        default="ask",
        help="ask (default): tool calls that need approval are put to the client (rejected if it "
        "cannot answer); bypass: they run unasked; deny: they are refused",
    )
    p.add_argument(
        "--permission-timeout",
        type=_positive,
        default=DEFAULT_PERMISSION_TIMEOUT,
        metavar="SECONDS",
        help="reject a permission question the client has not answered within this long",
    )
    p.add_argument("--log-level", choices=list(LEVELS), default="info")
    p.add_argument(
        "--max-frame",
        type=int,
        default=DEFAULT_MAX_FRAME,
        metavar="BYTES",
        help="largest accepted message",
    )
    p.add_argument(
        "--max-backlog", type=int, default=DEFAULT_MAX_BACKLOG, metavar="BYTES",
        help="output waiting for a client that does not read, beyond which updates are dropped and no request is read",
    )  # fmt: skip
    p.add_argument(
        "--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS, metavar="N",
        help="live sessions (and so backends) at most; more starts and resumes get tooManySessions",
    )  # fmt: skip
    p.add_argument(
        "--standby", type=int, default=DEFAULT_STANDBY, metavar="N",
        help="backends started ahead for each recently used provider and workspace, so that a new"
        " session's first answer is warm (0: start nothing ahead; stopped when unused for"
        " --standby-idle seconds)",
    )  # fmt: skip
    p.add_argument(
        "--standby-idle", type=_positive, default=None, metavar="SECONDS",
        help="stop standby backends nobody has used for this long (default: --idle-timeout, else 600)",
    )  # fmt: skip
    p.add_argument(
        "--auto-wait",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="on a usage limit, wait for the reset and send the turn again (default: $CAW_AUTOWAIT, else off)",
    )
    p.add_argument(
        "--stdio",
        action="store_true",
        help="accepted for LSP clients that pass it; stdio is the only transport",
    )
    p.add_argument("--version", action="version", version=f"caw-server {__version__}")
    return p


def from_args(argv: list[str] | None = None) -> Options:
    args = parser().parse_args(argv)
    data_dir: Path | None
    if args.no_data_dir:
        data_dir = None
    elif args.data_dir is not None:
        data_dir = args.data_dir.expanduser().resolve()
    else:
        data_dir = default_data_dir()
    return Options(
        provider=args.provider,
        data_dir=data_dir,
        idle_timeout=args.idle_timeout,
        turn_timeout=args.turn_timeout,
        log_level=args.log_level,
        max_frame=max(1024, args.max_frame),
        max_backlog=max(1024, args.max_backlog),
        permission_mode=args.permission_mode,
        permission_timeout=args.permission_timeout,
        max_sessions=max(1, args.max_sessions),
        **({"auto_wait": args.auto_wait} if args.auto_wait is not None else {}),
        standby=max(0, args.standby),
        standby_idle=args.standby_idle,
    )
