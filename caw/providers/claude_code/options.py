"""What claude is given: its flags, and who answers its permission questions."""

from __future__ import annotations

from ...permissions import PermissionBroker
from ...tools.groups import ToolGroup, claude_tools
from ..base import ConversationOptions


def argv(
    cli: str,
    options: ConversationOptions,
    prompt_file: str | None = None,
    mcp_file: str | None = None,
) -> list[str]:
    """``claude -p`` in stream-json both ways, with the options as flags (no session flag yet).

    Values are joined to their flags (``--model=VALUE``), so none can read as a flag of its
    own; the system prompt is read from ``prompt_file`` (0600), never put on argv, where every
    local user could read it in /proc (issue 21, findings 5 and 7)."""
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
    if not options.trusted:  # no project hooks, settings or .mcp.json (caw.trust)
        argv.append("--setting-sources=user")
        if not mcp_file:
            argv.append("--strict-mcp-config")
    if options.model:
        argv.append(f"--model={options.model}")
    if prompt_file:
        # Appended, so the agent keeps Claude Code's own instructions for its tools.
        argv.append(f"--append-system-prompt-file={prompt_file}")
    if options.reasoning:
        argv.append(f"--effort={options.reasoning}")
    if options.tools is not None and options.tools != ToolGroup.ALL:
        argv.append(f"--tools={claude_tools(options.tools)}")
    if mcp_file:  # the session's servers only, from a private file (it holds secrets)
        argv += [f"--mcp-config={mcp_file}", "--strict-mcp-config"]
    return argv


def permission_broker(options: ConversationOptions) -> PermissionBroker | None:
    """The broker that answers claude's questions, in "ask" mode."""
    if options.permission_mode != "ask":
        return None
    return options.permissions or PermissionBroker("ask")  # nobody to ask: every question rejects
