"""Claude Code: one warm ``claude -p`` process per conversation (stream-json both ways).

The package has the shape of every adapter (see ``codex`` and ``opencode`` for two modes):

- ``__init__`` (here): the Provider: resume-key shape, starting and resuming;
- ``stream_json``: the one mode: a conversation over one ``claude -p`` process;
- ``translate``: claude's wire -> caw events;
- ``options``: what claude is given (flags, who answers its permission questions).

claude has no server mode, so nothing is shared between conversations (no pool).
"""

from __future__ import annotations

import json
import shutil

from ...model_catalog import ModelList, claude_models
from ...redact import hide_key
from ...tools.wiring import claude_config
from ..base import Conversation, ConversationOptions, Provider
from ..process import ChildProcess, private_file, private_folder
from .options import argv, permission_broker
from .stream_json import ClaudeConversation


class ClaudeCodeProvider(Provider):
    name = "claude_code"
    cli = "claude"
    npm_package = "@anthropic-ai/claude-code"

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

    async def start(self, options: ConversationOptions) -> Conversation:
        self.check_resume_key(options.session_id)
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
        return ClaudeConversation(
            process, resume_key=resume_key, permissions=permission_broker(options)
        )


__all__ = ["ClaudeCodeProvider", "ClaudeConversation"]
