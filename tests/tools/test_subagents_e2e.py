"""Subagents through the real CLIs (offline, scripted model): a child on another provider.

The parent calls the subagent tool; the child (its own caw session, on another CLI) answers;
the parent hears the child's answer; the child's trajectory is on the parent's tool-use block
and in ``subagent_trajectories``; ``total_usage`` counts the child's tokens.
"""

from __future__ import annotations

import pytest

from caw import AgentSpec, AsyncAgent
from caw.events import SubagentUpdate, TextDelta

from .toolbox import call

pytestmark = pytest.mark.e2e

CHILD = {"claude_code": "codex", "codex": "claude_code", "opencode": "codex"}


async def test_subagent_on_another_provider(provider, cli_env, work, scripted):
    child = CHILD[provider]
    env = {**cli_env(child), **cli_env(provider)}  # the parent's home; the child's settings too
    reviewer = AgentSpec(
        name="reviewer", description="Reviews what it is given", provider=child,
        system_prompt="You review code.",
    )  # fmt: skip
    agent = AsyncAgent(provider, cwd=work, env=env)
    agent.add_subagent(reviewer)
    session = await agent.start_session()
    try:
        events: list[object] = []
        turn = await session.send(
            call("subagents", "reviewer", '{"task": "Repeat after me: looks good"}'), events.append
        )
        assert turn.result == "Tool said: looks good", turn.output
        # The child's events streamed through the parent's, marked with its name.
        children = [e for e in events if isinstance(e, SubagentUpdate)]
        assert children and {(e.agent, e.provider) for e in children} == {("reviewer", child)}
        streamed = "".join(e.update.text for e in children if isinstance(e.update, TextDelta))
        assert streamed == "looks good"
        parent_text = "".join(b.text for b in turn.output if b.type == "text")
        assert parent_text == "Tool said: looks good"  # none of the child's text is the parent's
    finally:
        trajectory = await session.end()
    [sub] = trajectory.subagent_trajectories
    assert sub.agent == child and sub.turns[-1].result == "looks good"
    assert sub.metadata == {"subagent": "reviewer"}
    [block] = [b for b in trajectory.turns[-1].tool_calls if b.subagent_trajectory is not None]
    assert block.name.endswith("reviewer") and block.output == "looks good"
    assert sub.usage.total_tokens > 0
    assert trajectory.total_usage.total_tokens == (
        trajectory.usage.total_tokens + sub.usage.total_tokens
    )
