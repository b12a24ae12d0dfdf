"""opencode's per-turn mode: one ``opencode run --format json`` process per turn.

Used when serve cannot start, or with ``CAW_OPENCODE_MODE=run``. No streaming
deltas: run prints each part once it is complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ...errors import BackendFailed
from ...events import Event
from ...models import Usage
from ...redact import hide_key
from ...tools.groups import opencode_denials
from ...tools.wiring import edit_opencode_config, opencode_env
from ..base import Conversation, ConversationOptions, RawSink, tolerant
from ..process import ChildProcess
from .options import KEY_RE, READ_ONLY_TOOLS
from .translate import error_of, run_line_events


@dataclass
class _RunTurn:
    """What one run's lines said so far."""

    usage: Usage = field(default_factory=Usage)
    failure: BackendFailed | None = None
    last_finish: str | None = None  # the last line's step_finish reason; None: not a step_finish


def _write_prompt(folder: str, text: str) -> str:
    """The system prompt as a file (run reads instructions from files); its path."""
    path = os.path.join(folder, "system-prompt.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class RunConversation(Conversation):
    """One ``opencode run --format json [--session ID]`` process per turn (no streaming deltas)."""

    def __init__(self, cli: str, options: ConversationOptions, resume_key: str | None):
        self._cli = cli
        self._options = options
        self.resume_key = resume_key
        self._process: ChildProcess | None = None
        self._interrupted = False
        self._closed = False
        self._turn: _RunTurn | None = None

    @property
    def alive(self) -> bool:
        return not self._closed

    def _argv(self) -> list[str]:
        # Values are joined to their flags (`--model=VALUE`): a value can never become a flag
        # of its own (issue 21, finding 5; ConversationOptions refuses leading dashes too).
        # The session id has to be on argv: `opencode run` takes it nowhere else (its serve
        # mode, the default, sends it over HTTP); see docs/reliability.md, "Secrets on argv".
        argv = [self._cli, "run", "--format=json", "--thinking"]
        if self.resume_key:
            argv.append(f"--session={self.resume_key}")
        if self._options.model:
            argv.append(f"--model={self._options.model}")
        if self._options.reasoning:
            argv.append(f"--variant={self._options.reasoning}")
        if self._options.permission_mode == "bypass":
            argv.append("--auto")
        return argv

    def _env(self, instructions: str | None) -> dict[str, str]:
        """run has no system prompt or permission flags: both go in through inline config."""
        env = opencode_env(self._options.process_env(), self._options.mcp_servers)
        extra: dict[str, Any] = {}
        if instructions:
            extra["instructions"] = [instructions]
        if self._options.permission_mode != "bypass":  # run cannot ask anyone: "ask" refuses too
            extra["permission"] = {"*": "ask", **dict.fromkeys(READ_ONLY_TOOLS, "allow")}
        if self._options.tools is not None:  # after the others: they win (caw.tools.groups)
            denied = {rule["permission"]: "deny" for rule in opencode_denials(self._options.tools)}
            if denied:
                extra["permission"] = {**extra.get("permission", {}), **denied}
        if not extra:
            return env

        def add_extra(config: dict[str, Any]) -> None:
            if "instructions" in extra:
                config["instructions"] = [
                    *(config.get("instructions") or []),
                    *extra.pop("instructions"),
                ]
            config.update(extra)

        return edit_opencode_config(env, add_extra)

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        if self._closed:
            raise BackendFailed("this opencode conversation was closed")
        self._interrupted = False
        with contextlib.ExitStack() as stack:
            instructions = None
            if self._options.system_prompt:
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="caw-opencode-"))
                instructions = _write_prompt(folder, self._options.system_prompt)
            # The message goes in on stdin: run quotes positional words that contain spaces.
            process = await ChildProcess.spawn(
                self._argv(),
                name="opencode run",
                env=self._env(instructions),
                cwd=self._options.cwd,
            )
            self._process = process
            try:
                await process.write_stdin(text)
                self._turn = _RunTurn()
                async for line in process.json_lines():
                    raw(line)
                    for event in tolerant("opencode", self._line_events, line, self._turn):
                        yield event
                await process.proc.wait()
                failed = await process.exit_error("opencode run failed", wait_exit=0)
                if self._interrupted:
                    return
                if self._turn.failure is not None:
                    raise self._turn.failure
                if process.returncode != 0:
                    if "Session not found" in failed.stderr_tail:
                        raise BackendFailed(
                            "opencode has no session with this resume key (Session not found)",
                            exit_code=process.returncode,
                        )
                    raise failed
                torn = self._torn(process)
                if torn:  # never a silently empty or cut answer (issue 21, finding 6)
                    raise BackendFailed(
                        f"opencode run's output ended {torn}; the answer is incomplete",
                        exit_code=process.returncode,
                        stderr_tail=failed.stderr_tail,
                    )
            finally:
                self._process = None
                await process.stop()

    def _line_events(self, line: dict[str, Any], turn: _RunTurn) -> list[Event]:
        session = line.get("sessionID")
        if isinstance(session, str) and KEY_RE.fullmatch(session):
            self.resume_key = session
            hide_key(session, self._options.session_id)
        kind = line.get("type")
        turn.last_finish = None
        if kind == "error" and turn.failure is None:
            turn.failure = error_of(line.get("error") or {})
        elif kind == "step_finish":
            reason = (line.get("part") or {}).get("reason")
            turn.last_finish = reason if isinstance(reason, str) else ""
        servers = tuple(server.name for server in self._options.mcp_servers)
        events, turn.usage = run_line_events(line, turn.usage, servers)
        return events

    def _torn(self, process: ChildProcess) -> str | None:
        """How the turn's output fell short of a whole run, or None.

        ``opencode run`` exits 0 before its stdout pipe is drained, so a long answer's last
        line can be cut off: an unreadable line, or a last line that is not the final
        ``step_finish`` (a step that ended for anything but tool calls)."""
        assert self._turn is not None
        if process.skipped_lines:
            return f"with {process.skipped_lines} unreadable (torn) line(s)"
        if self._turn.last_finish in (None, "tool-calls"):
            return "before its final step_finish event"
        return None

    async def interrupt(self) -> None:
        process = self._process
        if process is not None and process.alive:
            self._interrupted = True
            await process.stop()

    async def close(self) -> None:
        self._closed = True
        await self.interrupt()
