"""``caw doctor``: which backend CLIs this machine has, their versions and where they are."""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..providers import PROVIDER_NAMES, provider_class
from ..providers.base import cli_version


def doctor(_: argparse.Namespace) -> int:
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
    return 0 if missing < len(PROVIDER_NAMES) else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="which backend CLIs are installed")
    p.set_defaults(func=doctor)
