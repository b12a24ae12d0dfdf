"""What claude is given: its flags, and who answers its permission questions."""

from __future__ import annotations

from ...permissions import PermissionBroker
from ..base import ConversationOptions


def argv(cli: str, options: ConversationOptions) -> list[str]:
    """``claude -p`` in stream-json both ways, with the options as flags (no session flag yet)."""
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


def permission_broker(options: ConversationOptions) -> PermissionBroker | None:
    """The broker that answers claude's questions, in "ask" mode."""
    if options.permission_mode != "ask":
        return None
    return options.permissions or PermissionBroker("ask")  # nobody to ask: every question rejects
