"""Claude Code: one warm ``claude -p`` process per conversation, stream-json both ways.

Input is one JSON line per user turn; output is JSON lines (``system/init``,
``stream_event`` partials, full ``assistant``/``user`` messages, and a ``result``
that ends the turn). Interrupts are ``control_request``s on stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

from ..errors import BackendFailed
from ..events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from ..models import Usage
from ..permissions import PermissionBroker
from ..permissions import claude as claude_permissions
from ..redact import hide_key
from .base import Conversation, ConversationOptions, Provider, RawSink, model_error
from .process import ChildProcess

_request_ids = itertools.count(1)


def _tool_result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _usage(result: dict[str, Any], cost: float | None) -> Usage:
    u = result.get("usage") or {}
    return Usage(
        input_tokens=int(u.get("input_tokens") or 0),
        output_tokens=int(u.get("output_tokens") or 0),
        cache_read_tokens=int(u.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(u.get("cache_creation_input_tokens") or 0),
        cost_usd=cost,
    )


class ClaudeConversation(Conversation):
    def __init__(
        self,
        process: ChildProcess,
        resume_key: str | None,
        permissions: PermissionBroker | None = None,
    ):
        self.process = process
        self.resume_key = resume_key
        self.permissions = permissions  # set in "ask" mode: claude's can_use_tool questions
        # claude reports the conversation's running cost; a resumed process starts from the
        # stored total, which we do not know, so its first turn's own cost is unknown.
        self._cumulative_cost: float | None = None if resume_key else 0.0
        self._interrupted = False

    @property
    def alive(self) -> bool:
        return self.process.alive

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        self._interrupted = False
        try:
            await self.process.write_json(
                {"type": "user", "message": {"role": "user", "content": text}}
            )
        except (BrokenPipeError, ConnectionResetError):
            raise await self._died() from None
        streamed: set[str] = set()  # message ids whose text arrived as deltas
        current_message: str | None = None
        seen_tools: set[str] = set()
        # A message that streamed text but has no full `assistant` line yet. If another message
        # begins first, the stream broke off and claude retried: the partial text is void.
        partial: str | None = None
        async for line in self.process.json_lines():
            raw(line)
            kind = line.get("type")
            if kind == "system" and line.get("subtype") == "init":
                self.resume_key = line.get("session_id") or self.resume_key
            elif kind == "stream_event":
                event = line.get("event") or {}
                etype = event.get("type")
                if etype == "message_start":
                    current_message = (event.get("message") or {}).get("id")
                    if partial is not None and partial != current_message:
                        partial = None
                        yield TextDelta(text="", replace=True)
                elif etype == "content_block_delta":
                    delta = event.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        if current_message:
                            streamed.add(current_message)
                            partial = current_message
                        yield TextDelta(text=delta["text"])
                    elif delta.get("type") == "thinking_delta" and delta.get("thinking"):
                        if current_message:
                            streamed.add(current_message)
                            partial = current_message
                        yield ThinkingDelta(text=delta["thinking"])
            elif kind == "assistant":
                message = line.get("message") or {}
                was_streamed = message.get("id") in streamed
                if partial is not None and partial != message.get("id"):
                    yield TextDelta(text="", replace=True)  # claude retried without streaming
                partial = None
                for block in message.get("content") or []:
                    btype = block.get("type")
                    if btype == "tool_use" and block.get("id") not in seen_tools:
                        seen_tools.add(block.get("id"))
                        yield ToolCall(
                            id=block.get("id", ""),
                            name=block.get("name", ""),
                            input=block.get("input") or {},
                        )
                    elif btype == "text" and not was_streamed and block.get("text"):
                        yield TextDelta(text=block["text"])
                    elif btype == "thinking" and not was_streamed and block.get("thinking"):
                        yield ThinkingDelta(text=block["thinking"])
            elif kind == "user":
                for block in (line.get("message") or {}).get("content") or []:
                    if isinstance(block, dict) and block.get("type") == "tool_result":
                        yield ToolResult(
                            id=block.get("tool_use_id", ""),
                            output=_tool_result_text(block.get("content")),
                            is_error=bool(block.get("is_error")),
                        )
            elif self.permissions is not None and claude_permissions.is_permission_request(line):
                await self._answer_permission(line)
            elif kind == "result":
                self.resume_key = line.get("session_id") or self.resume_key
                total = line.get("total_cost_usd")
                cost = None
                if isinstance(total, (int, float)):
                    if self._cumulative_cost is not None:
                        cost = max(0.0, float(total) - self._cumulative_cost)
                    self._cumulative_cost = float(total)
                yield UsageUpdate(usage=_usage(line, cost))
                if line.get("is_error") and not self._interrupted:
                    errors = line.get("errors") or []
                    message = (
                        line.get("result")
                        or "; ".join(map(str, errors))
                        or line.get("subtype", "error")
                    )
                    if "No conversation found" in str(
                        message
                    ) or "No conversation found" in " ".join(map(str, errors)):
                        raise BackendFailed(
                            f"claude has no conversation with this resume key: {message}"
                        )
                    raise model_error(f"claude reported an error: {message}")
                return
        raise await self._died()

    async def _answer_permission(self, line: dict[str, Any]) -> None:
        assert self.permissions is not None
        decision = await self.permissions.decide(claude_permissions.permission_request(line))
        try:
            await self.process.write_json(claude_permissions.permission_response(line, decision))
        except (BrokenPipeError, ConnectionResetError):
            raise await self._died() from None

    async def _died(self) -> BackendFailed:
        return await self.process.exit_error("the claude process ended during the turn")

    async def interrupt(self) -> None:
        if not self.process.alive:
            return
        self._interrupted = True
        request = {
            "type": "control_request",
            "request_id": f"caw-{next(_request_ids)}",
            "request": {"subtype": "interrupt"},
        }
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.process.write_json(request)

    async def close(self) -> None:
        # Closing stdin lets claude finish writing its session file before we signal it.
        self.process.close_stdin()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.process.proc.wait(), 2.0)
        await self.process.stop()


class ClaudeCodeProvider(Provider):
    name = "claude_code"
    cli = "claude"
    npm_package = "@anthropic-ai/claude-code"

    @classmethod
    def check_resume_key(cls, key: str) -> str:
        return cls._check_uuid_key(key)

    def _argv(self, cli: str, options: ConversationOptions) -> list[str]:
        argv = [
            cli, "-p", "--verbose",
            "--input-format", "stream-json",
            "--output-format", "stream-json",
            "--include-partial-messages",
        ]  # fmt: skip
        if options.permission_mode == "bypass":
            argv.append("--dangerously-skip-permissions")
        elif options.permission_mode == "ask":  # claude asks caw (can_use_tool control requests)
            argv += ["--permission-prompt-tool", "stdio"]
        if options.model:
            argv += ["--model", options.model]
        if options.system_prompt:
            # Appended, so the agent keeps Claude Code's own instructions for its tools.
            argv += ["--append-system-prompt", options.system_prompt]
        if options.reasoning:
            argv += ["--effort", options.reasoning]
        return argv

    async def _spawn(self, argv: list[str], options: ConversationOptions) -> ChildProcess:
        env = options.process_env()
        cli = self.require_cli(env)
        return await ChildProcess.spawn([cli, *argv[1:]], name="claude", env=env, cwd=options.cwd)

    async def start(self, options: ConversationOptions) -> Conversation:
        self.check_resume_key(options.session_id)
        argv = self._argv(self.cli, options) + ["--session-id", options.session_id]
        return ClaudeConversation(
            await self._spawn(argv, options), resume_key=None, permissions=_asks(options)
        )

    async def resume(self, resume_key: str, options: ConversationOptions) -> Conversation:
        self.check_resume_key(resume_key)
        hide_key(resume_key, options.session_id)  # claude's error for an unknown key quotes it
        argv = self._argv(self.cli, options) + ["--resume", resume_key]
        return ClaudeConversation(
            await self._spawn(argv, options), resume_key=resume_key, permissions=_asks(options)
        )


def _asks(options: ConversationOptions) -> PermissionBroker | None:
    """The broker that answers claude's questions, in "ask" mode."""
    if options.permission_mode != "ask":
        return None
    return options.permissions or PermissionBroker("ask")  # nobody to ask: every question rejects
