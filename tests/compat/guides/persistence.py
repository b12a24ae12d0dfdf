"""Guide "Persistence": data_dir, Session.load_trajectory, save_trajectory, FastStats."""

from __future__ import annotations

from pathlib import Path

from caw import Agent, FastStats, Session

agent = Agent(data_dir="caw_data")
with agent.start_session() as session:
    session.send("My number is 42. Remember that.")
    session.send("What number is mine?")
    session.save_trajectory("run.json")
session_id = session.trajectory.session_id

stored = Path("caw_data/sessions") / session_id / "trajectory.json"
loaded = Session.load_trajectory(stored)
assert loaded.trajectory.result == "42", loaded.trajectory.result
assert Session.load_trajectory("run.json").trajectory.num_turns == 2

stats = FastStats.from_path(stored)
assert stats is not None
assert stats.total_tokens > 0 and stats.agent == "claude_code", stats
total = FastStats.directory_total_cost("caw_data")
listed = list(FastStats.iter_directory("caw_data"))
assert len(listed) == 1 and total == listed[0].cost_usd, (total, listed)
for s in listed:
    print(s.model, f"${s.cost_usd:.4f}", s.total_tokens)
print("ok")
