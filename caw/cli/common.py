"""What every ``caw`` subcommand shares: the default data dir, exit statuses, error lines."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import platformdirs

from ..errors import (
    BackendFailed,
    CawError,
    InvalidHandle,
    ProviderNotInstalled,
    TurnCancelled,
    UnknownSession,
    UsageLimitReached,
)
from ..providers import PROVIDER_NAMES

#: Exit statuses of ``caw run`` (and the other commands where they apply); docs/terminal.md.
EXIT_OK = 0
EXIT_BACKEND_FAILED = 1
EXIT_USAGE = 2
EXIT_USAGE_LIMIT = 3
EXIT_NOT_INSTALLED = 4
EXIT_NOT_FOUND = 5
EXIT_CANCELLED = 130

DATA_DIR_ENV = "CAW_DATA_DIR"


def default_data_dir() -> Path:
    """``$CAW_DATA_DIR``, else the platform's user data dir for caw (the daemon's default too)."""
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured).expanduser() if configured else platformdirs.user_data_path("caw")


def state_dir() -> Path:
    """Where the terminal keeps its own small state (input history per directory)."""
    path = platformdirs.user_state_path("caw")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where sessions are recorded (default: ${DATA_DIR_ENV} or {default_data_dir()})",
    )


def data_dir_of(ns: argparse.Namespace) -> Path:
    return Path(ns.data_dir).expanduser() if ns.data_dir is not None else default_data_dir()


def add_provider(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider",
        default=None,
        help=f"one of {', '.join(PROVIDER_NAMES)} (default: $CAW_PROVIDER or claude_code)",
    )


def exit_status(exc: BaseException) -> int:
    """The documented exit status for an error a command ends on."""
    if isinstance(exc, (TurnCancelled, KeyboardInterrupt)):
        return EXIT_CANCELLED
    if isinstance(exc, UsageLimitReached):
        return EXIT_USAGE_LIMIT
    if isinstance(exc, ProviderNotInstalled):
        return EXIT_NOT_INSTALLED
    if isinstance(exc, UnknownSession):
        return EXIT_NOT_FOUND
    if isinstance(exc, (InvalidHandle, ValueError)):
        return EXIT_USAGE
    if isinstance(exc, BackendFailed):
        return EXIT_BACKEND_FAILED
    return EXIT_BACKEND_FAILED


def fail(message: str, status: int = EXIT_USAGE) -> int:
    """Print one clear line to stderr and return ``status``."""
    print(f"caw: {message}", file=sys.stderr)
    return status


def is_expected_error(exc: BaseException) -> bool:
    """Errors the user should see as one line, not as a traceback."""
    return isinstance(exc, (CawError, ValueError, OSError, LookupError))
