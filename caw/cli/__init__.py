"""The ``caw`` command. One module per subcommand; each has ``register(sub)``.

``run`` (one turn for scripts), ``chat`` (a terminal chat), ``sessions`` (list, show,
remove, export and import), ``traj`` (a step-indexed terminal view of a trajectory),
``viewer`` (a local web UI), ``demo``, ``doctor``, ``config``, ``auth`` (agent logins for
Docker), ``trust`` (folders whose agent configuration may run) and ``acp`` (the Agent Client
Protocol on stdio, for editors). docs/terminal.md describes them.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import acp, auth, chat, config, demo, doctor, run, sessions, traj, trust, viewer
from .common import EXIT_CANCELLED, EXIT_OK, exit_status, is_expected_error

SUBCOMMANDS = (run, chat, sessions, traj, viewer, demo, doctor, config, auth, trust, acp)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caw", description="caw, the coding-agent wrapper")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        status: int = ns.func(ns)
        return status
    except KeyboardInterrupt:
        return EXIT_CANCELLED
    except BrokenPipeError:  # the reader went away (`caw ... | head`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a clear line, not a traceback
        if is_expected_error(exc):
            print(f"caw: {exc}", file=sys.stderr)
            return exit_status(exc)
        raise
