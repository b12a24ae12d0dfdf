"""``caw trust [PATH] [--list | --revoke]``: the folders whose agent configuration (hooks,
plugins, MCP servers) caw lets run without asking, until that configuration changes
(caw.trust_store)."""

from __future__ import annotations

import argparse
import os

from .. import trust_store
from ..trust import agent_config_files


def _state(folder: str, entry: trust_store.TrustedFolder) -> str:
    if not os.path.isdir(folder):
        return "folder gone"
    files = agent_config_files(folder)
    if trust_store.config_digest(folder, files) != entry.digest:
        return "changed since: will ask again"
    return "trusted"


def trust(args: argparse.Namespace) -> int:
    if args.list:
        folders = trust_store.load().folders
        if not folders:
            print(f"no trusted folders ({trust_store.trust_file()})")
        for folder, entry in sorted(folders.items()):
            when = entry.trusted_at.strftime("%Y-%m-%d %H:%M")
            print(f"{folder}  {when}  {_state(folder, entry)}  ({', '.join(entry.files) or '-'})")
        return 0
    folder = trust_store.folder_key(args.path)
    if args.revoke:
        if trust_store.revoke(folder):
            print(f"{folder} is no longer trusted")
            return 0
        print(f"{folder} was not trusted")
        return 1
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"not a folder: {args.path}")
    files = agent_config_files(folder)
    trust_store.trust(folder, files)
    found = ", ".join(files) if files else "no agent configuration yet"
    print(f"trusted {folder} ({found}); caw asks again if that changes")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "trust",
        help="trust a folder's agent configuration (hooks, plugins, MCP servers), list or revoke",
    )
    p.add_argument("path", nargs="?", default=".", help="the folder (default: this one)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="the trusted folders")
    what.add_argument("--revoke", action="store_true", help="forget the folder")
    p.set_defaults(func=trust)
