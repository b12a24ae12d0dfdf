"""Guides "Models and tiers" and "Providers": model strings and ModelTier, set_reasoning,
CAW_PROVIDER, set_provider, a provider list, register_provider."""

from __future__ import annotations

import os

import caw
from caw import Agent, ModelTier
from caw.providers import provider_class

agent = Agent(provider="claude_code", model="opus")
assert agent.completion("Repeat after me: on opus").result == "on opus"
Agent(provider="codex", model="gpt-5.5")  # chosen, not started

strongest = Agent(model=ModelTier.STRONGEST)
fast = Agent(model=ModelTier.FAST)
assert fast.completion("Repeat after me: fast").result == "fast"
del strongest

agent = Agent(model="opus", reasoning="high")
agent.set_reasoning("medium")
assert agent.completion("Repeat after me: medium").result == "medium"

os.environ["CAW_PROVIDER"] = "codex"
assert Agent().provider == "codex"
agent.set_provider("claude")
assert agent.provider == "claude_code"
del os.environ["CAW_PROVIDER"]

listed = Agent(provider=["claude", "codex"], model=ModelTier.STRONGEST)
traj = listed.completion("Repeat after me: first installed")
assert (traj.agent, traj.result) == ("claude_code", "first installed"), traj.agent

caw.register_provider("my_backend", provider_class("claude_code"))
mine = caw.Agent(provider="my_backend")
assert mine.completion("Repeat after me: mine").result == "mine"
print("ok")
