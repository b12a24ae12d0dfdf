"""Guide "Sessions": setters, a session as a context manager, completion, the trajectory's
counters, send_async."""

from __future__ import annotations

import asyncio

from caw import Agent

agent = Agent(provider="claude_code", model="opus", reasoning="high")
agent.set_system_prompt("You are a security reviewer.")
with agent.start_session() as session:
    turn1 = session.send("My file is src/auth.py. Remember that.")
    turn2 = session.send("Which file is mine?")
    assert (turn1.result, turn2.result) == ("Noted: file is src/auth.py.", "src/auth.py")
    traj = session.trajectory
    assert traj.num_turns == 2 and traj.total_tool_calls == 0
    assert traj.usage.total_tokens > 0
    print(f"Turns: {traj.num_turns}, tokens: {traj.usage.total_tokens}")
assert session.trajectory.is_complete

traj = agent.completion("Repeat after me: explained")
assert traj.result == "explained", traj.result


async def main() -> None:
    with agent.start_session() as session:
        task = asyncio.create_task(session.send_async("Repeat after me: in the background"))
        other = asyncio.create_task(asyncio.sleep(0.05))  # other async work runs meanwhile
        turn = await task
        await other
        assert turn.result == "in the background", turn.result


asyncio.run(main())
print("ok")
