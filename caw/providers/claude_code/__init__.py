"""Claude Code: one warm ``claude -p`` process per conversation (stream-json both ways).

The package has the shape of every adapter (see ``codex`` and ``opencode`` for two modes):

- ``__init__`` (here): the Provider: resume-key shape, starting and resuming;
- ``stream_json``: the one mode: a conversation over one ``claude -p`` process;
- ``translate``: claude's wire -> caw events;
- ``options``: what claude is given (flags, who answers its permission questions).

claude has no server mode, so nothing is shared between conversations (no pool); a
process may be started ahead with a fresh session id (``prestart``) for the session
that will start with that id. A process started ahead (a standby, or a resume started
before its first send) is sent two read-only control requests at once (``warm_up``), which
pre-pay the modules claude loads on the first line it reads and the first request's system
prompt and tool schemas.
"""

from __future__ import annotations

import json
import shutil

from ...model_catalog import ModelList, claude_models
from ...redact import hide_key
from ...tools.wiring import claude_config
from ..base import Conversation, ConversationOptions, Provider
from ..process import ChildProcess, private_file, private_folder
from ..standby import Standby, running
from .options import argv, permission_broker
from .stream_json import ClaudeConversation
from .warm_up import WarmUp


class ClaudeStandby(Standby):
    """A claude process started ahead with ``--session-id`` for the session to come."""

    used_up_by_start = True

    def __init__(
        self, provider: ClaudeCodeProvider, session_id: str, process: ChildProcess, spawned: Spawned
    ):
        super().__init__(session_id)
        self.provider, self.process, self.spawned = provider, process, spawned
        self.warm_up = WarmUp(process)
        self.taken = False

    @property
    def alive(self) -> bool:
        return not self.taken and self.process.alive and running(self.process.pid)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    async def discard(self) -> None:
        if self.provider._standby.get(self.session_id) is self:
            del self.provider._standby[self.session_id]
        if not self.taken:
            await self.warm_up.settle()
            await self.process.stop()


# What a claude process is started with: its command line, environment and working directory.
Spawned = tuple[tuple[str, ...], tuple[tuple[str, str], ...], str]


class ClaudeCodeProvider(Provider):
    name = "claude_code"
    cli = "claude"
    npm_package = "@anthropic-ai/claude-code"

    def __init__(self) -> None:
        self._standby: dict[str, ClaudeStandby] = {}  # session id -> its process started ahead

    @classmethod
    def check_resume_key(cls, key: str) -> str:
        return cls._check_uuid_key(key)

    async def _spawn(self, flags: list[str], options: ConversationOptions) -> ChildProcess:
        env = options.process_env()
        cli = self.require_cli(env)
        private = options.system_prompt or options.mcp_servers
        folder = private_folder("caw-claude-") if private else None
        prompt_file = mcp_file = None
        if folder is not None and options.system_prompt:
            prompt_file = private_file(folder, "system-prompt.md", options.system_prompt)
        if folder is not None and options.mcp_servers:
            mcp_file = private_file(
                folder, "mcp.json", json.dumps(claude_config(options.mcp_servers))
            )
        try:
            process = await ChildProcess.spawn(
                [*argv(cli, options, prompt_file, mcp_file), *flags],
                name="claude", env=env, cwd=options.cwd,
            )  # fmt: skip
        except BaseException:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        if folder is not None:
            process.remove_on_stop(folder)  # claude may read it again at any point of its life
        return process

    def _spawned(self, options: ConversationOptions) -> Spawned | None:
        """What a start with these options runs; None when it writes private files of its own
        (a system prompt, MCP servers), which a process started ahead could not share."""
        if options.system_prompt or options.mcp_servers:
            return None
        env = options.process_env()
        argv_ = (*argv(self.require_cli(env), options), "--session-id", options.session_id)
        return tuple(argv_), tuple(sorted(env.items())), options.cwd

    async def prestart(self, options: ConversationOptions) -> Standby | None:
        self.check_resume_key(options.session_id)
        spawned = self._spawned(options)
        if spawned is None:
            return None
        process = await self._spawn(["--session-id", options.session_id], options)
        standby = ClaudeStandby(self, options.session_id, process, spawned)
        self._standby[options.session_id] = standby
        return standby

    async def start(self, options: ConversationOptions) -> Conversation:
        self.check_resume_key(options.session_id)
        standby = self._standby.pop(options.session_id, None)
        if standby is not None:
            # Used only if it runs exactly what a fresh start would (and still runs).
            if standby.alive and standby.spawned == self._spawned(options):
                standby.taken = True
                return ClaudeConversation(
                    standby.process,
                    resume_key=None,
                    permissions=permission_broker(options),
                    warm_up=standby.warm_up,
                )
            await standby.discard()
        process = await self._spawn(["--session-id", options.session_id], options)
        return ClaudeConversation(process, resume_key=None, permissions=permission_broker(options))

    async def list_models(self, options: ConversationOptions) -> ModelList:
        """claude has no listing request: the aliases its CLI accepts."""
        self.require_cli(options.process_env())
        return claude_models()

    async def resume(self, resume_key: str, options: ConversationOptions) -> Conversation:
        self.check_resume_key(resume_key)
        hide_key(resume_key, options.session_id)  # claude's error for an unknown key quotes it
        process = await self._spawn(["--resume", resume_key], options)
        # caw-server resumes ahead of the first send (eager resume): warm it meanwhile.
        return ClaudeConversation(
            process,
            resume_key=resume_key,
            permissions=permission_broker(options),
            warm_up=WarmUp(process),
        )

    async def aclose(self) -> None:
        for standby in list(self._standby.values()):
            await standby.discard()


__all__ = ["ClaudeCodeProvider", "ClaudeConversation", "ClaudeStandby"]
