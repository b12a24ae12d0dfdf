"""Guide "Subagents": AgentSpec, Agent.add_subagent, subagent_trajectories, total usage."""

from __future__ import annotations

from caw import Agent, AgentSpec, ToolGroup

reviewer = AgentSpec(
    name="security_reviewer",
    description="Reviews code for security issues",
    system_prompt="You are a security expert. Review the given code.",
)
agent = Agent()
agent.add_subagent(reviewer)
traj = agent.completion(
    '[[mcp:subagents:security_reviewer:{"task": "Repeat after me: no issues found"}]] Review auth.'
)
assert traj.result == "Tool said: no issues found", traj.result
[sub] = traj.subagent_trajectories
assert sub.num_turns == 1 and sub.result == "no issues found", sub
for s in traj.subagent_trajectories:
    print(f"  subagent: {s.agent}, {s.num_turns} turns, ${s.usage.cost_usd or 0:.4f}")
assert traj.total_usage.total_tokens > traj.usage.total_tokens  # the child's tokens count too

researcher = AgentSpec(
    name="researcher",
    description="Searches the web and summarizes findings",
    system_prompt="You research topics thoroughly.",
    model="opus",
    tools=ToolGroup.READER | ToolGroup.WEB,
)
assert researcher.name == "researcher"
print("ok")
