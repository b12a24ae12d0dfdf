"""codex's per-turn mode: one ``codex exec --json`` (``codex exec resume``) process per turn.

Used when the CLI cannot run an app-server, or with ``CAW_CODEX_MODE=exec``.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ...errors import BackendFailed
from ...events import Event, UsageUpdate
from ...models import Usage
from ...redact import hide_key
from ...tools.groups import ToolGroup
from ...tools.wiring import codex_exec_overrides
from ..base import Conversation, ConversationOptions, RawSink, model_error, tolerant
from ..process import ChildProcess
from .options import toml_string
from .translate import EXEC_TOKENS, TurnTranslator, exec_item, minus, usage_of


class ExecConversation(Conversation):
    """A thread driven by one ``codex exec --json`` process per turn (no app-server)."""

    def __init__(
        self, cli: str, env: Mapping[str, str], options: ConversationOptions, resume_key: str | None
    ):
        self.cli, self.env, self.options = cli, env, options
        self.resume_key = resume_key
        self._process: ChildProcess | None = None
        self._interrupted = False
        # Exec reports the thread's cumulative usage; a resumed thread's earlier total is unknown.
        self._usage_total: dict[str, Any] | None = None if resume_key else {}
        self._error: str | None = None  # what the running turn's lines reported as its error

    def _argv(self) -> list[str]:
        """The prompt is read from stdin (``-``): on argv every local user could read it in
        /proc, and over 128 KiB it did not fit (E2BIG). Values are joined to their flags.
        The thread id stays on argv: ``codex exec resume`` takes it nowhere else (the
        app-server mode, the default, sends it over stdin); see docs/reliability.md."""
        options = self.options
        flags = ["--json", "--skip-git-repo-check"]
        if options.permission_mode == "bypass":
            flags.append("--dangerously-bypass-approvals-and-sandbox")
        else:  # nobody can answer an approval here: never ask, and sandbox read-only
            flags += ["-c", 'sandbox_mode="read-only"', "-c", 'approval_policy="never"']
        if options.model:
            flags.append(f"--model={options.model}")
        if options.system_prompt:
            flags += ["-c", f"developer_instructions={toml_string(options.system_prompt)}"]
        if options.reasoning:
            flags += ["-c", f"model_reasoning_effort={toml_string(options.reasoning)}"]
        flags += codex_exec_overrides(options.mcp_servers)[0]
        if options.tools is not None and ToolGroup.WRITER not in options.tools:
            flags += ["-c", 'sandbox_mode="read-only"']  # the last -c wins (caw.tools.groups)
        if options.tools is not None and ToolGroup.WEB not in options.tools:
            flags += ["-c", 'web_search="disabled"']
        if self.resume_key is None:
            return [self.cli, "exec", *flags, "--", "-"]
        return [self.cli, "exec", "resume", *flags, "--", self.resume_key, "-"]

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        self._interrupted = False
        process = await ChildProcess.spawn(
            self._argv(),
            name="codex exec",
            env={**self.env, **codex_exec_overrides(self.options.mcp_servers)[1]},
            cwd=self.options.cwd,
        )
        self._process = process
        await process.write_stdin(text)
        self._error = None
        translator = TurnTranslator()
        try:
            async for line in process.json_lines():
                raw(line)
                for event in tolerant("codex", self._line_events, line, translator):
                    yield event
            await process.proc.wait()
            error = self._error
            if self._interrupted:
                return
            failed = await process.exit_error("codex exec failed", wait_exit=0)
            if "no rollout found" in failed.stderr_tail:
                raise BackendFailed(
                    "codex has no conversation with this resume key (no rollout found)",
                    exit_code=failed.exit_code,
                    stderr_tail=failed.stderr_tail,
                )
            if error is not None:
                raise model_error(f"codex reported an error: {error}")
            if process.returncode != 0:
                raise failed
        finally:
            self._process = None
            await process.stop()

    def _line_events(self, line: Mapping[str, Any], translator: TurnTranslator) -> list[Event]:
        """One ``codex exec --json`` line's events; its error, if it reports one."""
        kind = line.get("type")
        if kind == "thread.started":
            thread = line.get("thread_id")
            if isinstance(thread, str) and thread:
                self.resume_key = thread
                hide_key(thread, self.options.session_id)
        elif kind in ("item.started", "item.completed"):
            method = "item/started" if kind == "item.started" else "item/completed"
            return list(translator.events(method, {"item": exec_item(line.get("item") or {})}))
        elif kind == "turn.completed":
            usage = self._turn_usage(line.get("usage") or {})
            return [] if usage is None else [UsageUpdate(usage=usage)]
        elif kind == "turn.failed":
            failed = (line.get("error") or {}).get("message")
            self._error = str(failed or self._error or "the turn failed")
        elif kind == "error":
            self._error = str(line.get("message") or "")
        return []

    def _turn_usage(self, cumulative: Mapping[str, Any]) -> Usage | None:
        before, self._usage_total = self._usage_total, dict(cumulative)
        return None if before is None else usage_of(minus(cumulative, before), EXEC_TOKENS)

    async def interrupt(self) -> None:
        process = self._process
        if process is not None and process.alive:
            self._interrupted = True
            # SIGINT: codex records the turn as interrupted and exits.
            with contextlib.suppress(ProcessLookupError):
                process.proc.send_signal(signal.SIGINT)

    async def close(self) -> None:
        if self._process is not None:
            await self.interrupt()
            await self._process.stop()
