"""``caw demo``: the resume contract (one process starts and sends, a new one resumes by handle)
through a real CLI against a local scripted model."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..providers import PROVIDER_NAMES, canonical_name, provider_class
from ..providers.base import cli_version


def _say(who: str, text: str, extra: str = "") -> None:
    print(f"    {who} {text}" + (f"   ({extra})" if extra else ""), flush=True)


def demo_step(ns: argparse.Namespace) -> int:
    """One 'process' of the demo; prints one JSON line for the parent."""
    from .. import Agent

    agent = Agent(provider=ns.provider, data_dir=ns.data_dir)
    report: dict[str, Any] = {"pid": os.getpid()}
    if ns.step == "start":
        session = agent.start_session()
        started = time.perf_counter()
        turn = session.send(ns.message)
        report.update(
            handle=session.resume_handle, result=turn.result, seconds=time.perf_counter() - started
        )
    else:
        started = time.perf_counter()  # resume_session starts the backend: count it in
        session = agent.resume_session(ns.handle)
        turn = session.send(ns.message)
        report.update(
            result=turn.result,
            seconds=time.perf_counter() - started,
            turns=session.trajectory.num_turns,
        )
        started = time.perf_counter()
        again = session.send("And where am I deploying again?")
        report.update(warm_result=again.result, warm_seconds=time.perf_counter() - started)
    session.end()
    print(json.dumps(report))
    return 0


def demo(ns: argparse.Namespace) -> int:
    """The resume contract through the real CLI against a local scripted model: no account, no network."""
    from ..testing import ScriptedModelServer, cli_environment

    provider = canonical_name(ns.provider)
    cli = provider_class(provider).cli
    with ScriptedModelServer() as server, tempfile.TemporaryDirectory(prefix="caw-demo-") as tmp:
        env = cli_environment(provider, server.base_url, Path(tmp))
        found = provider_class(provider).find_cli(env)
        if found is None:
            print(
                f"caw demo: the `{cli}` CLI was not found. {provider_class(provider).install_hint()}",
                file=sys.stderr,
            )
            return 1
        print(f"caw demo: provider {provider}, {cli_version(found, env) or cli} ({found})")
        print(f"  a scripted model server answers on {server.base_url} (offline, deterministic)\n")
        data_dir = str(Path(tmp) / "caw_data")

        def step(*args: str) -> dict[str, Any]:
            out = subprocess.run(
                [sys.executable, "-m", "caw.cli", "_demo-step", "--provider", provider, "--data-dir", data_dir, *args],
                env=env, cwd=tmp, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            if out.returncode != 0:
                raise SystemExit(f"caw demo: a step failed:\n{out.stderr[-2000:]}")
            result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
            return result

        fact, question = "My deploy target is staging-eu. Remember that.", "Where am I deploying?"
        first = step("start", "--message", fact)
        handle = json.loads(first["handle"])
        print(f"  process 1 (pid {first['pid']}) starts a session:")
        _say("you  >", fact)
        _say("agent<", first["result"], f"{first['seconds']:.2f} s")
        shown = {**handle, "resume_key": "<hidden: the handle is a credential>"}
        print(f"    stores its resume handle: {json.dumps(shown)}")
        print("    and exits.\n")
        second = step("resume", "--handle", first["handle"], "--message", question)
        print(f"  process 2 (pid {second['pid']}) resumes from the handle:")
        _say("you  >", question)
        _say(
            "agent<", second["result"], f"{second['seconds']:.2f} s, including the backend's start"
        )
        _say(
            "agent<",
            second["warm_result"],
            f"{second['warm_seconds']:.3f} s for the next turn, backend warm",
        )
        print(f"    trajectory in the data dir: {second['turns'] + 1} turns\n")
        ok = second["result"] == "staging-eu"
        print(
            "  the resumed conversation remembered the fact."
            if ok
            else "  the resumed conversation did NOT remember the fact!"
        )
        return 0 if ok else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="run the resume flow through a real CLI against a local scripted model"
    )
    p.add_argument(
        "--provider",
        default=None,
        help=f"one of {', '.join(PROVIDER_NAMES)} (default: $CAW_PROVIDER or claude_code)",
    )
    p.set_defaults(func=demo)
    p = sub.add_parser("_demo-step")  # internal: one process of the demo
    p.add_argument("step", choices=["start", "resume"])
    p.add_argument("--provider", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--message", required=True)
    p.add_argument("--handle")
    p.set_defaults(func=demo_step)
