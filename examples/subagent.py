"""A parent agent that delegates a review to a subagent, possibly on another CLI (docs/tools.md).

Run: python examples/subagent.py [parent-provider] [child-provider]
"""

from __future__ import annotations

import sys

from caw import Agent, AgentSpec


def main() -> None:
    parent = sys.argv[1] if len(sys.argv) > 1 else None
    child = sys.argv[2] if len(sys.argv) > 2 else None
    reviewer = AgentSpec(
        name="reviewer",
        description="Reviews code for security issues",
        system_prompt="You are a security expert. Review the given code.",
        provider=child,
    )
    agent = Agent(parent, system_prompt="You are a senior engineer. Delegate reviews.")
    agent.add_subagent(reviewer)
    trajectory = agent.completion("Ask the reviewer to review the auth module.")
    print(trajectory.turns[-1].result)
    for sub in trajectory.subagent_trajectories:
        print(
            f"  subagent on {sub.agent}: {sub.num_turns} turn(s), {sub.usage.total_tokens} tokens"
        )
    print("total tokens, subagents included:", trajectory.total_usage.total_tokens)


if __name__ == "__main__":
    main()
