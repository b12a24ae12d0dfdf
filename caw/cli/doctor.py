"""``caw doctor``: which backend CLIs this machine has, their versions, where they are and what
caw can tell about their credentials; ``--live`` also sends each one short probe message."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from .. import __version__
from ..providers import PROVIDER_NAMES, provider_class
from ..providers.base import cli_version

if TYPE_CHECKING:
    from ..health import AuthSignal


def doctor(args: argparse.Namespace) -> int:
    from ..health import check_provider
    from ..testing.environments import backends_bin_dir

    pinned = backends_bin_dir()
    print(f"caw {__version__} on Python {sys.version.split()[0]}")
    missing = 0
    for name in PROVIDER_NAMES:
        cls = provider_class(name)
        path = cls.find_cli()
        where = "PATH"
        if path is None and pinned is not None:
            env = {**os.environ, "PATH": f"{pinned}{os.pathsep}{os.environ.get('PATH', '')}"}
            path, where = cls.find_cli(env), "caw's pinned test backends"
        if path is None:
            missing += 1
            print(f"  {name:<12} missing: {cls.install_hint()}")
        else:
            print(f"  {name:<12} {cli_version(path) or 'unknown version'}  ({path}, from {where})")
        live = bool(getattr(args, "live", False)) and path is not None
        # Where the CLI was found goes first on PATH, so the probe runs that one.
        found_on = (
            f"{os.path.dirname(path)}{os.pathsep}{os.environ.get('PATH', '')}" if path else None
        )
        health = check_provider(name, live=live, env={"PATH": found_on} if found_on else None)
        print(f"  {'':<12} credentials: {_auth_line(health.auth)}")
        if health.probed:
            if health.rate_limited:
                print(f"  {'':<12} probe: rate-limited, about {health.wait_minutes} min to reset")
            else:
                print(
                    f"  {'':<12} probe: {'failed: ' + health.error if health.error else 'answers'}"
                )
    return 0 if missing < len(PROVIDER_NAMES) else 1


def _auth_line(auth: AuthSignal | None) -> str:
    if auth is None:
        return "unknown"
    state = {True: "found", False: "not found", None: "unknown"}[auth.present]
    expiry = ""
    if auth.token_expires_at is not None:
        expiry = f"; token {'expired' if auth.token_expired else 'expires'} {auth.token_expires_at:%Y-%m-%d %H:%M} UTC"
    return f"{state} ({auth.detail}){expiry}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="which backend CLIs are installed, and their credentials")
    p.add_argument(
        "--live",
        action="store_true",
        help="also send each provider one short probe message (costs a request each)",
    )
    p.set_defaults(func=doctor)
