"""``caw run``: one turn for scripts. The answer streams to stdout; the exit status says how it went.

Statuses (docs/terminal.md): 0 answered, 1 the backend failed, 2 bad usage, 3 usage limit
reached, 4 the provider's CLI is not installed, 5 no such session, 130 cancelled by Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from .. import AsyncAgent, AsyncSession
from ..errors import CawError, TurnCancelled
from ..events import Event, TextDelta
from ..models import CawModel, Turn
from ..store import Store
from .common import (
    EXIT_CANCELLED,
    EXIT_OK,
    EXIT_USAGE,
    add_data_dir,
    add_provider,
    data_dir_of,
    exit_status,
    fail,
    is_expected_error,
)
from .resolve import find_session, last_session

PERMISSION_MODES = ("bypass", "deny")
RunStatus = Literal[
    "answered", "failed", "usageLimit", "notInstalled", "notFound", "usage", "cancelled"
]
_STATUS_NAMES: dict[int, RunStatus] = {
    0: "answered", 1: "failed", 2: "usage", 3: "usageLimit", 4: "notInstalled", 5: "notFound",
    130: "cancelled",
}  # fmt: skip


class RunOutput(CawModel):
    """What ``caw run --json`` prints: one object (``--jsonl`` ends with it, without the handle)."""

    status: RunStatus
    exit_status: int
    session_id: str | None = None
    provider: str | None = None
    #: The handle to continue with (``caw run --resume HANDLE``); a credential.
    resume_handle: str | None = None
    turn: Turn | None = Field(None, description="The turn (what arrived before, when cancelled)")
    error: str | None = None


class EventLine(CawModel):
    """One ``--jsonl`` line while the turn runs."""

    type: Literal["event"] = "event"
    event: dict[str, Any]


def json_schema() -> dict[str, Any]:
    return RunOutput.model_json_schema(by_alias=True, mode="serialization")


def resume_target(store: Store, resume: str, cwd: Path) -> str:
    """``--resume``: a handle as it is, ``last`` or a (prefix of a) session id as its full id."""
    if resume.lstrip().startswith("{"):
        return resume
    if resume == "last":
        return last_session(store, cwd)
    return find_session(store, resume)[1].session_id


def read_prompt(ns: argparse.Namespace) -> str:
    if ns.prompt is not None and ns.prompt != "-":
        return str(ns.prompt)
    if sys.stdin is None or sys.stdin.isatty():
        raise ValueError("no prompt: give it as an argument or on stdin")
    return sys.stdin.read()


class Printer:
    """Writes the events as the chosen output asks: text to stdout, or JSON lines."""

    def __init__(self, mode: str):
        self.mode = mode
        self.wrote_text = False
        self.ends_newline = True

    def __call__(self, event: Event) -> None:
        if self.mode == "jsonl":
            line = EventLine(event=event.to_wire())
            sys.stdout.write(line.model_dump_json(by_alias=True) + "\n")
            sys.stdout.flush()
        elif self.mode == "text" and isinstance(event, TextDelta):
            if event.replace and self.wrote_text:
                sys.stdout.write("\n")  # the backend restarted its answer: start a fresh line
            sys.stdout.write(event.text)
            sys.stdout.flush()
            self.wrote_text = True
            self.ends_newline = event.text.endswith("\n") if event.text else self.ends_newline

    def finish(self) -> None:
        if self.mode == "text" and self.wrote_text and not self.ends_newline:
            sys.stdout.write("\n")
            sys.stdout.flush()


async def run_turn(ns: argparse.Namespace, prompt: str, cwd: Path) -> RunOutput:
    data_dir = data_dir_of(ns)
    agent = AsyncAgent(
        provider=ns.provider, model=ns.model, system_prompt=ns.system_prompt,
        data_dir=data_dir, cwd=cwd if ns.cwd else None, permission_mode=ns.permission_mode,
        turn_timeout=ns.timeout,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    session: AsyncSession | None = None
    cancelling = False
    pending: set[asyncio.Task[bool]] = set()

    def on_sigint() -> None:  # first Ctrl-C stops the turn cleanly; a second one stops waiting
        nonlocal cancelling
        if session is not None and session.busy and not cancelling:
            cancelling = True
            task = loop.create_task(session.cancel())
            pending.add(task)
            task.add_done_callback(pending.discard)
        elif main_task is not None:
            main_task.cancel()

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    printer = Printer("json" if ns.json else "jsonl" if ns.jsonl else "text")
    out = RunOutput(status="answered", exit_status=EXIT_OK)
    try:
        if ns.resume:
            session = await agent.resume_session(resume_target(agent_store(agent), ns.resume, cwd))
        else:
            session = await agent.start_session(metadata={"source": "caw run"})
        out.session_id, out.provider = session.session_id, session.provider_name
        try:
            out.turn = await session.send(prompt, printer)
        except TurnCancelled as exc:
            out.turn = exc.turn if isinstance(exc.turn, Turn) else None
            raise
        finally:
            printer.finish()
    except asyncio.CancelledError:
        out.status, out.exit_status, out.error = "cancelled", EXIT_CANCELLED, "cancelled"
    except Exception as exc:
        if not is_expected_error(exc):
            raise
        out.exit_status = exit_status(exc)
        out.status, out.error = _STATUS_NAMES.get(out.exit_status, "failed"), str(exc)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if session is not None:
            try:
                out.resume_handle = session.resume_handle
            except CawError:
                out.resume_handle = None
            await asyncio.shield(session.end())
    return out


def agent_store(agent: AsyncAgent) -> Store:
    assert agent.store is not None  # the terminal always has a data dir
    return agent.store


def run(ns: argparse.Namespace) -> int:
    if ns.print_schema:
        print(json.dumps(json_schema(), indent=2))
        return EXIT_OK
    if ns.json and ns.jsonl:
        return fail("--json and --jsonl exclude each other")
    try:
        prompt = read_prompt(ns)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    if not prompt.strip():
        return fail("the prompt is empty", EXIT_USAGE)
    cwd = Path(ns.cwd).resolve() if ns.cwd else Path.cwd()
    if not cwd.is_dir():
        return fail(f"--cwd {cwd} is not a directory", EXIT_USAGE)
    out = asyncio.run(run_turn(ns, prompt, cwd))
    if ns.json:
        print(out.model_dump_json(by_alias=True))
    elif ns.jsonl:
        print(out.model_copy(update={"resume_handle": None}).model_dump_json(by_alias=True))
    if out.error and not ns.json:
        print(f"caw: {out.error}", file=sys.stderr)
    return out.exit_status


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="one turn for scripts: print the answer as it streams",
        description="Send one prompt (argument or stdin) and print the answer as it streams. "
        "Exit status: 0 answered, 1 backend failed, 2 bad usage, 3 usage limit, "
        "4 CLI not installed, 5 no such session, 130 cancelled (Ctrl-C).",
    )
    p.add_argument("prompt", nargs="?", help="the prompt; '-' or none reads stdin")
    add_provider(p)
    p.add_argument("--model", help="the backend's model name")
    p.add_argument("--system-prompt", help="a system prompt for a new session")
    p.add_argument("--permission-mode", choices=PERMISSION_MODES, default="bypass")
    p.add_argument("--cwd", help="the agent's working directory (default: this one)")
    add_data_dir(p)
    p.add_argument(
        "--resume", metavar="HANDLE|ID|last", help="continue a session: a handle, an id, or last"
    )
    p.add_argument("--timeout", type=float, default=None, help="stop a turn after S seconds")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON object at the end")
    fmt.add_argument("--jsonl", action="store_true", help="stream the events as JSON lines")
    p.add_argument("--print-schema", action="store_true", help="print the --json JSON Schema")
    p.set_defaults(func=run)
