"""``caw sessions``: list, show, remove, export and import the sessions of a data dir."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InvalidHandle
from ..handle import ResumeHandle
from ..models import TextBlock, ThinkingBlock, ToolUseBlock, Trajectory
from ..providers import canonical_name
from ..store import SessionDir, Store
from .bundle import (
    Bundle,
    BundleFile,
    Transcript,
    check_compatible,
    installed_cli_version,
    read_bundle,
    write_bundle,
)
from .common import EXIT_OK, add_data_dir, data_dir_of, fail
from .resolve import find_session, same_dir
from .transcripts import TranscriptFile, read_transcript, write_transcript


def last_activity(sdir: SessionDir, traj: Trajectory) -> datetime:
    try:
        return datetime.fromtimestamp(sdir.trajectory_path.stat().st_mtime, timezone.utc)
    except OSError:
        return traj.created_at


def _cost(traj: Trajectory) -> str:
    cost = traj.usage.cost_usd
    return "-" if cost is None else f"${cost:.4f}"


def list_sessions(ns: argparse.Namespace) -> int:
    store = Store(data_dir_of(ns))
    here = Path.cwd()
    rows = [
        (sdir, traj)
        for sdir, traj in store.iter_trajectories()
        if ns.all or same_dir(traj.cwd, here)
    ]
    if ns.json:
        print(json.dumps([_summary(sdir, traj) for sdir, traj in rows], indent=1))
        return EXIT_OK
    if not rows:
        where = "" if ns.all else f" for {here} (--all lists every directory's)"
        print(f"no sessions in {store.root}{where}")
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("id", "title", "provider", "turns", "tokens", "cost", "last activity"):
        table.add_column(column, no_wrap=column != "title", overflow="fold")
    if ns.all:
        table.add_column("directory")
    for sdir, traj in rows:
        cells = [
            traj.session_id, traj.title or "(no turns yet)", traj.agent, str(traj.num_turns),
            str(traj.usage.total_tokens), _cost(traj),
            last_activity(sdir, traj).astimezone().strftime("%Y-%m-%d %H:%M"),
        ]  # fmt: skip
        if ns.all:
            cells.append(traj.cwd or "")
        table.add_row(*cells)
    # A pipe gets whole rows (scripts grep them), a terminal a table that fits its width.
    Console(width=None if sys.stdout.isatty() else 400).print(table)
    return EXIT_OK


def _summary(sdir: SessionDir, traj: Trajectory) -> dict[str, object]:
    return {
        "sessionId": traj.session_id, "title": traj.title, "provider": traj.agent,
        "turns": traj.num_turns, "tokens": traj.usage.total_tokens, "costUsd": traj.usage.cost_usd,
        "lastActivity": last_activity(sdir, traj).isoformat(), "cwd": traj.cwd,
    }  # fmt: skip


def show(ns: argparse.Namespace) -> int:
    _, traj = find_session(Store(data_dir_of(ns)), ns.id)
    print(f"session {traj.session_id}  {traj.agent}  {traj.cwd or ''}")
    print(f"{traj.num_turns} turns, {traj.usage.total_tokens} tokens, cost {_cost(traj)}")
    for turn in traj.turns:
        print(f"\n> {turn.input}")
        for block in turn.output:
            if isinstance(block, TextBlock):
                print(block.text)
            elif isinstance(block, ThinkingBlock):
                print(f"  (thinking: {len(block.text)} characters)")
            elif isinstance(block, ToolUseBlock):
                summary = json.dumps(block.input, ensure_ascii=False)
                print(f"  [{block.name}] {summary[:100]}{'…' if len(summary) > 100 else ''}")
        if turn.stop_reason != "end_turn":
            print(f"  ({turn.stop_reason}{': ' + turn.error.message if turn.error else ''})")
    return EXIT_OK


def remove(ns: argparse.Namespace) -> int:
    sdir, traj = find_session(Store(data_dir_of(ns)), ns.id)
    if not ns.yes:
        if not sys.stdin.isatty():
            return fail("not removing without confirmation: pass --yes")
        answer = input(f"remove session {traj.session_id} ({traj.title!r})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("kept")
            return EXIT_OK
    shutil.rmtree(sdir.path)
    print(f"removed {traj.session_id}")
    return EXIT_OK


def export(ns: argparse.Namespace) -> int:
    sdir, traj = find_session(Store(data_dir_of(ns)), ns.id)
    handle = sdir.load_handle()
    transcript = None
    if not ns.no_transcript:
        if handle is None:
            return fail(
                f"session {traj.session_id} has no resume key yet (no answered turn); "
                "export it with --no-transcript"
            )
        env = dict(os.environ)
        files = read_transcript(handle.provider, handle.resume_key, env, traj.cwd)
        transcript = Transcript(
            backend_id=handle.resume_key,
            cli_version=installed_cli_version(handle.provider, env),
            files=[BundleFile.of(f) for f in files],
        )
    bundle = Bundle(
        provider=traj.agent,
        trajectory=traj.model_dump(mode="json", by_alias=True),
        transcript=transcript,
        handle=handle.encode() if (ns.include_handle and handle is not None) else None,
    )
    out = Path(ns.output)
    write_bundle(bundle, out)
    parts = ["the trajectory"] + (["the backend's transcript"] if transcript else [])
    parts += ["the resume handle"] if bundle.handle else []
    print(f"exported {traj.session_id} to {out} ({', '.join(parts)})")
    return EXIT_OK


def import_bundle(ns: argparse.Namespace) -> int:
    bundle = read_bundle(Path(ns.file))
    provider = canonical_name(bundle.provider)
    env = dict(os.environ)
    trajectory = Trajectory.model_validate(bundle.trajectory)
    cwd = Path(ns.cwd).resolve() if ns.cwd else Path.cwd()
    store = Store(data_dir_of(ns))
    if store.has(trajectory.session_id):
        return fail(
            f"session {trajectory.session_id} is already in {store.root}; remove it first "
            "(caw sessions rm) to import it again"
        )
    handle = None
    if bundle.transcript is not None:
        check_compatible(bundle, installed_cli_version(provider, env))
        key = bundle.transcript.backend_id
        handle = ResumeHandle(provider=provider, session_id=trajectory.session_id, resume_key=key)
        if bundle.handle is not None:
            from ..handle import decode_handle

            handle = decode_handle(bundle.handle)
            if handle.resume_key != key or handle.session_id != trajectory.session_id:
                raise InvalidHandle("the bundle's handle does not match its transcript")
        files = [TranscriptFile(f.path, f.data()) for f in bundle.transcript.files]
        write_transcript(provider, key, files, env, str(cwd))
    trajectory.cwd = str(cwd)
    sdir = store.create(trajectory.session_id)
    sdir.save_trajectory(trajectory)
    if handle is not None:
        sdir.save_handle(handle)
        print(f"imported {trajectory.session_id} ({trajectory.title!r}) for {cwd}")
        print(f"continue it: caw run --resume {trajectory.session_id} PROMPT, or caw chat here")
    else:
        print(f"imported {trajectory.session_id} (history only: the bundle has no transcript)")
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sessions", help="list, show, remove, export and import sessions")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("list", help="this directory's sessions (or --all), newest first")
    a.add_argument("--all", action="store_true", help="every directory's sessions")
    a.add_argument("--json", action="store_true", help="one JSON array")
    add_data_dir(a)
    a.set_defaults(func=list_sessions)
    a = actions.add_parser("show", help="print a session's conversation")
    a.add_argument("id", help="a session id or a unique prefix of one")
    add_data_dir(a)
    a.set_defaults(func=show)
    a = actions.add_parser("rm", help="remove a session from the data dir (asks first)")
    a.add_argument("id")
    a.add_argument("--yes", "-y", action="store_true", help="do not ask")
    add_data_dir(a)
    a.set_defaults(func=remove)
    a = actions.add_parser("export", help="write a session to a portable bundle (0600)")
    a.add_argument("id")
    a.add_argument("-o", "--output", required=True, help="the bundle file to write")
    a.add_argument(
        "--include-handle", action="store_true", help="also store the resume handle (a credential)"
    )
    a.add_argument(
        "--no-transcript", action="store_true", help="history only: not resumable elsewhere"
    )
    add_data_dir(a)
    a.set_defaults(func=export)
    a = actions.add_parser("import", help="take in a bundle written by caw sessions export")
    a.add_argument("file")
    a.add_argument("--cwd", help="the directory the conversation continues in (default: this one)")
    add_data_dir(a)
    a.set_defaults(func=import_bundle)
