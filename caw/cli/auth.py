"""``caw auth``: the host's agent logins for Docker containers (setup, status, docker-flags,
teardown), as caw 0.1.9 documents it. See :mod:`caw.auth`."""

from __future__ import annotations

import argparse

from .. import auth


def _setup(args: argparse.Namespace) -> int:
    path = auth.setup(agents=args.agents, dest_dir=args.auth_dir)
    print(f"wrote {path}; mount it with: docker run $(caw auth docker-flags) ...")
    return 0


def _status(args: argparse.Namespace) -> int:
    for s in auth.get_status(auth_dir=args.auth_dir):
        modified = s.modified.strftime("%Y-%m-%d %H:%M") if s.modified else "-"
        print(
            f"{s.agent:<7} {s.file:<26} {s.type:<10} {s.strategy:<5} "
            f"{'ok' if s.exists else 'MISSING':<8} modified {modified:<16} "
            f"expires {s.token_expiry or '-'}  ({s.path})"
        )
    print(f"docker flags: {auth.get_docker_flags(auth_dir=args.auth_dir)}")
    return 0


def _docker_flags(args: argparse.Namespace) -> int:
    print(auth.get_docker_flags(auth_dir=args.auth_dir))
    return 0


def _teardown(args: argparse.Namespace) -> int:
    auth.teardown(auth_dir=args.auth_dir, force=args.force)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("auth", help="the host's agent logins for Docker containers")
    actions = p.add_subparsers(dest="action", required=True)
    commands = (
        ("setup", _setup, "write the auth dir (manifest, container script, cleaned configs)"),
        ("status", _status, "each managed file: where it lives, modified, token expiry"),
        ("docker-flags", _docker_flags, "the -v flags for docker run"),
        ("teardown", _teardown, "remove the auth dir (host files are untouched)"),
    )
    for name, func, text in commands:
        a = actions.add_parser(name, help=text)
        a.add_argument("--auth-dir", metavar="DIR", help=f"default: {auth.default_auth_dir()}")
        a.set_defaults(func=func)
        if name == "setup":
            a.add_argument("--agents", nargs="+", metavar="AGENT", help="claude, codex or all")
        if name == "teardown":
            a.add_argument("--force", action="store_true", help="remove it even so")
