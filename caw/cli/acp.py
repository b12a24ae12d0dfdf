"""``caw acp``: speak the Agent Client Protocol on stdio (for Zed, agent-shell, CodeCompanion...)."""

from __future__ import annotations

import argparse

from ..permissions import PERMISSION_MODES
from ..providers import canonical_name
from .common import add_data_dir, add_provider, data_dir_of


def acp(ns: argparse.Namespace) -> int:
    from ..acp import ServeOptions, serve  # the ACP SDK takes a second to import: only here

    options = ServeOptions(
        provider=canonical_name(ns.provider),
        data_dir=None if ns.no_data_dir else data_dir_of(ns),
        permission_mode=ns.permission_mode,
        turn_timeout=ns.timeout,
        log_level=ns.log_level,
    )
    return serve(options)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "acp", help="serve the Agent Client Protocol on stdio (editors: Zed, agent-shell, ...)"
    )
    add_provider(p)
    add_data_dir(p)
    p.add_argument(
        "--no-data-dir",
        action="store_true",
        help="record nothing (no session/list, load or resume)",
    )
    p.add_argument(
        "--permission-mode",
        choices=PERMISSION_MODES,
        default="ask",
        help="ask (default: the editor is asked), bypass (every tool runs unasked) or deny",
    )
    p.add_argument("--timeout", type=float, default=None, help="stop a turn after S seconds")
    p.add_argument(
        "--log-level", choices=("error", "warning", "info", "debug"), default="warning",
        help="what goes to stderr (never a resume key)",
    )  # fmt: skip
    p.set_defaults(func=acp)
