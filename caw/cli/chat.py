"""``caw chat``: a terminal chat in the current directory, resuming its last chat by default.

Input comes from prompt_toolkit in a terminal (line editing, history per directory) and from
plain lines in a pipe. Ctrl-C cancels a running turn; pressed twice it leaves (so does Ctrl-D
or /exit). Slash commands: /new, /resume [N|ID], /provider [NAME], /model [NAME], /cost,
/export [FILE], /help, /exit.

Permission questions (``--permission-mode ask``, the default in a terminal) are asked in the
terminal: the command or the edit's diff, then allow once / always / reject once / always. In a
pipe nothing can be asked: the default there is ``deny``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import hashlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from .. import AsyncAgent, AsyncSession
from ..errors import CawError, TurnCancelled
from ..models import Trajectory
from ..permissions import OptionKind, PermissionRequest
from ..providers import PROVIDER_NAMES, canonical_name
from ..store import Store
from .chat_render import TurnPrinter, one_line
from .common import (
    EXIT_OK,
    add_data_dir,
    add_provider,
    data_dir_of,
    exit_status,
    is_expected_error,
    state_dir,
)
from .resolve import CHAT_SOURCE, last_session, same_dir

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

    from ..permissions import PermissionMode

HELP = """/new               start a fresh chat here
/resume [N|ID]     continue another chat of this directory (no argument: pick from a list)
/provider [NAME]   show the provider, or start a fresh chat with another one
/model [NAME]      show the model, or continue this chat with another one
/cost              tokens and cost of this chat
/export [FILE]     write this chat to a bundle (caw sessions import reads it)
/exit              leave (so do Ctrl-D and Ctrl-C twice)"""


class Leave(Exception):
    """The user asked to leave."""


ANSWERS: dict[str, OptionKind] = {
    "y": "allow_once", "yes": "allow_once", "a": "allow_always", "always": "allow_always",
    "n": "reject_once", "no": "reject_once", "": "reject_once", "never": "reject_always",
}  # fmt: skip


class TerminalPermissions:
    """Answers the session's permission questions in the terminal (``on_permission``)."""

    def __init__(self, chat: Chat):
        self.chat = chat

    async def ask(self, request: PermissionRequest) -> OptionKind:
        chat = self.chat
        if chat.printer is not None:
            chat.printer.close()
        chat.console.print(
            Text(f"? {request.tool} wants to run: {request.title}", style="bold yellow")
        )
        if request.command and request.command != request.title:
            chat.console.print(Text(f"  $ {request.command}", style="yellow"), highlight=False)
        for change in request.diff:
            chat.console.print(Text(f"  {change.path}", style="yellow"), highlight=False)
            diff = "".join(
                difflib.unified_diff(
                    (change.old_text or "").splitlines(keepends=True),
                    change.new_text.splitlines(keepends=True), lineterm="\n",
                )
            )  # fmt: skip
            chat.console.print(Syntax(diff or "(no change)", "diff", theme="ansi_dark"))
        while True:
            try:
                line = await chat.read_line("allow? [y]es / [a]lways / [n]o / never: ")
            finally:
                chat.rearm_sigint()  # prompt_toolkit took SIGINT over while it read the answer
            answer = ANSWERS.get(line.strip().lower())
            if answer is not None:
                return answer


class Chat:
    def __init__(self, ns: argparse.Namespace, console: Console, cwd: Path):
        self.ns, self.console, self.cwd = ns, console, cwd
        self.data_dir = data_dir_of(ns)
        self.store = Store(self.data_dir)
        self.provider: str | None = ns.provider
        self.model: str | None = ns.model
        self.session: AsyncSession | None = None
        self.interactive = sys.stdin.isatty() and console.is_terminal
        self.prompt = None if not self.interactive else self._prompt_session()
        self.permissions = TerminalPermissions(self)
        self.permission_mode: str = ns.permission_mode or ("ask" if self.interactive else "deny")
        self.interrupts = 0  # consecutive Ctrl-C presses; two leave
        self.printer: TurnPrinter | None = None
        self._turn_sigint: Callable[[], None] | None = None

    def rearm_sigint(self) -> None:
        """Put the running turn's Ctrl-C handler back (a prompt in between removes it)."""
        if self._turn_sigint is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._turn_sigint)

    # --- input -----------------------------------------------------------------------------

    def _prompt_session(self) -> PromptSession[str]:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory  # imported here: only a terminal needs them

        history = state_dir() / "chat-history"
        history.mkdir(exist_ok=True, mode=0o700)
        name = hashlib.sha256(str(self.cwd).encode()).hexdigest()[:24]
        path = history / name
        path.touch(mode=0o600, exist_ok=True)
        return PromptSession(history=FileHistory(str(path)))

    async def read_line(self, message: str) -> str:
        """One line of input; EOF raises Leave, Ctrl-C twice in a row raises Leave."""
        while True:
            if self.prompt is not None:
                try:
                    line: str = await self.prompt.prompt_async(message)
                except KeyboardInterrupt:
                    self._interrupted_at_prompt()
                    continue
                except EOFError:
                    raise Leave from None
            else:
                self.console.out(message, end="")
                raw = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                if not raw:
                    raise Leave
                line = raw.rstrip("\n")
            self.interrupts = 0
            return line

    def _interrupted_at_prompt(self) -> None:
        self.interrupts += 1
        if self.interrupts >= 2:
            raise Leave
        self.console.print(Text("(Ctrl-C again, Ctrl-D or /exit to leave)", style="dim"))

    # --- sessions ----------------------------------------------------------------------------

    def agent(self) -> AsyncAgent:
        return AsyncAgent(
            provider=self.provider, model=self.model, system_prompt=self.ns.system_prompt,
            data_dir=self.data_dir, cwd=self.cwd, pinned=False,
            permission_mode=cast("PermissionMode", self.permission_mode),
            on_permission=self.permissions.ask if self.permission_mode == "ask" else None,
        )  # fmt: skip

    async def open(self, new: bool) -> None:
        if not new:
            try:
                session_id = last_session(self.store, self.cwd, CHAT_SOURCE)
            except LookupError:
                session_id = None
            if session_id is not None:
                await self.resume(session_id)
                return
        await self.start()

    async def start(self) -> None:
        await self.close_session()
        self.session = await self.agent().start_session(metadata={"source": CHAT_SOURCE})
        self.provider = self.session.provider_name
        self.console.print(
            Text(f"new chat ({self.session.provider_name}) in {self.cwd}", style="dim")
        )

    async def resume(self, session_id: str) -> None:
        await self.close_session()
        self.session = await self.agent().resume_session(session_id)
        self.provider = self.session.provider_name
        traj = self.session.trajectory
        self.console.print(
            Text(
                f"resumed chat {traj.title!r} ({traj.num_turns} turns, {traj.agent}); /new for a fresh one",
                style="dim",
            )
        )
        if traj.turns:
            last = traj.turns[-1]
            self.console.print(Text(f"  you: {one_line(last.input, 70)}", style="dim"))
            self.console.print(Text(f"  agent: {one_line(last.result, 70)}", style="dim"))

    async def close_session(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            await asyncio.shield(session.end())

    # --- turns -------------------------------------------------------------------------------

    async def turn(self, text: str) -> None:
        assert self.session is not None
        session = self.session
        printer = self.printer = TurnPrinter(self.console)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        presses = 0
        pending: set[asyncio.Task[bool]] = set()

        def on_sigint() -> None:
            nonlocal presses
            presses += 1
            if presses == 1:
                printer.close()
                self.console.print(Text("(cancelling the turn; Ctrl-C again leaves)", style="dim"))
                job = loop.create_task(session.cancel())
                pending.add(job)
                job.add_done_callback(pending.discard)
            elif task is not None:
                task.cancel()

        self._turn_sigint = on_sigint
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            await session.send(text, printer)
            printer.close()
        except TurnCancelled:
            printer.close()
            self.console.print(Text("(turn cancelled)", style="yellow"))
        except asyncio.CancelledError:
            raise Leave from None
        except Exception as exc:
            printer.close()
            if not is_expected_error(exc):
                raise
            self.console.print(Text(f"error: {exc} (status {exit_status(exc)})", style="red"))
        finally:
            self._turn_sigint, self.printer = None, None
            loop.remove_signal_handler(signal.SIGINT)

    # --- commands ----------------------------------------------------------------------------

    async def command(self, line: str) -> None:
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if name in ("exit", "quit"):
            raise Leave
        if name == "help":
            self.console.print(HELP, highlight=False, markup=False)
        elif name == "new":
            await self.start()
        elif name == "resume":
            await self.pick(arg)
        elif name == "provider":
            if not arg:
                self.console.print(
                    f"provider: {self.provider} (one of {', '.join(PROVIDER_NAMES)})"
                )
                return
            self.provider = canonical_name(arg)
            await self.start()
        elif name == "model":
            if not arg:
                current = self.session.trajectory.model if self.session else None
                self.console.print(f"model: {self.model or current or 'the provider default'}")
                return
            self.model = arg
            if self.session is not None and self.session.trajectory.turns:
                await self.resume(self.session.session_id)  # the conversation goes on with it
            self.console.print(Text(f"model {arg} from the next turn on", style="dim"))
        elif name == "cost":
            self.show_cost()
        elif name == "export":
            await self.export(arg)
        else:
            self.console.print(Text(f"unknown command /{name}; /help lists them", style="red"))

    def chats_here(self) -> list[Trajectory]:
        return [
            t
            for _, t in self.store.iter_trajectories()
            if same_dir(t.cwd, self.cwd) and t.metadata.get("source") == CHAT_SOURCE and t.turns
        ]

    async def pick(self, arg: str) -> None:
        chats = self.chats_here()
        if not chats:
            self.console.print("no other chats in this directory")
            return
        if not arg:
            for i, t in enumerate(chats[:20], 1):
                current = (
                    " (current)" if self.session and t.session_id == self.session.session_id else ""
                )
                self.console.print(
                    f"{i:>3}. {t.title}  [{t.agent}, {t.num_turns} turns]{current}",
                    highlight=False, markup=False,
                )  # fmt: skip
            arg = (await self.read_line("resume which (number, Enter to stay)? ")).strip()
            if not arg:
                return
        if arg.isdigit() and 1 <= int(arg) <= len(chats):
            chosen = chats[int(arg) - 1].session_id
        else:
            matches = [t.session_id for t in chats if t.session_id.startswith(arg)]
            if len(matches) != 1:
                self.console.print(Text(f"no single chat matches {arg!r}", style="red"))
                return
            chosen = matches[0]
        await self.resume(chosen)

    def show_cost(self) -> None:
        if self.session is None:
            return
        traj = self.session.trajectory
        usage = traj.usage
        cost = "unknown" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
        self.console.print(
            f"{traj.num_turns} turns: {usage.input_tokens} in, {usage.output_tokens} out, "
            f"{usage.cache_read_tokens} cache read, {usage.cache_write_tokens} cache write; cost {cost}",
            highlight=False,
        )
        if traj.turns:
            last = traj.turns[-1].usage
            self.console.print(f"last turn: {last.total_tokens} tokens", highlight=False)

    async def export(self, arg: str) -> None:
        if self.session is None:
            return
        from .sessions import export

        target = arg or f"caw-chat-{self.session.session_id[:8]}.json"
        ns = argparse.Namespace(
            id=self.session.session_id, output=target, include_handle=False,
            no_transcript=not self.session.trajectory.turns, data_dir=self.data_dir,
        )  # fmt: skip
        try:
            await asyncio.get_running_loop().run_in_executor(None, export, ns)
        except (CawError, OSError, ValueError) as exc:
            self.console.print(Text(f"export failed: {exc}", style="red"))

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> int:
        await self.open(self.ns.new)
        if self.interactive:
            self.console.print(Text("/help for commands; Ctrl-C cancels a turn", style="dim"))
        try:
            while True:
                line = (await self.read_line("› ")).strip()
                if not line:
                    continue
                if line.startswith("/"):
                    await self.command(line)
                else:
                    if self.session is None:
                        await self.start()
                    await self.turn(line)
        except Leave:
            return EXIT_OK
        finally:
            with contextlib.suppress(CawError):
                await self.close_session()


def chat(ns: argparse.Namespace) -> int:
    cwd = Path.cwd()
    console = Console(highlight=False, no_color="NO_COLOR" in os.environ or None)
    console.soft_wrap = not console.is_terminal  # a pipe gets whole lines
    status = asyncio.run(Chat(ns, console, cwd).run())
    console.print(Text("bye", style="dim"))
    return status


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("chat", help="a terminal chat here; resumes this directory's last chat")
    p.add_argument("--new", action="store_true", help="start a fresh chat")
    add_provider(p)
    p.add_argument("--model", help="the backend's model name")
    p.add_argument("--system-prompt", help="a system prompt for a new chat")
    p.add_argument(
        "--permission-mode", choices=("ask", "bypass", "deny"), default=None,
        help="ask in the terminal (the default in a terminal), bypass, or deny (the default in a pipe)",
    )  # fmt: skip
    add_data_dir(p)
    p.set_defaults(func=chat)
