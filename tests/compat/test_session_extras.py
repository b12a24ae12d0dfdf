"""caw 0.1.9's session extras through a real CLI: traj_path, save/load_trajectory,
send_async order, metadata, the logger and display, completion overrides."""

from __future__ import annotations

import asyncio

import pytest

from caw import Agent, Display, DisplayMode, Session, SessionClosed, set_global_display

pytestmark = pytest.mark.e2e


@pytest.fixture
def agent(cli_env):
    return Agent("claude", env=cli_env("claude_code"))


def test_traj_path_is_written_after_each_turn_and_loads(agent, tmp_path, scripted):
    path = tmp_path / "out" / "run.json"
    agent.metadata["team"] = "infra"
    with agent.start_session(traj_path=path, metadata={"job": 7}) as session:
        session.send("My pet is a cat.")
        assert Session.load_trajectory(path).trajectory.num_turns == 1
        session.send("What is my pet?")
        session.save_trajectory(tmp_path / "copy.json")
    loaded = Session.load_trajectory(path)
    assert loaded.trajectory.result == "a cat"
    assert loaded.trajectory.metadata == {"team": "infra", "job": 7}
    assert loaded.trajectory.is_complete
    assert Session.load_trajectory(tmp_path / "copy.json").trajectory.num_turns == 2
    with pytest.raises(SessionClosed):
        loaded.send("again")


def test_send_async_keeps_call_order(agent, scripted):
    async def main(session):
        tasks = [
            asyncio.create_task(session.send_async(f"Repeat after me: n{i}")) for i in range(3)
        ]
        return [(await t).result for t in tasks]

    with agent.start_session() as session:
        assert asyncio.run(main(session)) == ["n0", "n1", "n2"]
    assert [r.user_texts()[-1] for r in scripted.main_requests()] == [
        "Repeat after me: n0", "Repeat after me: n1", "Repeat after me: n2",
    ]  # fmt: skip


def test_logger_and_display_see_the_events(agent, scripted, capsys):
    class Log:
        def __init__(self):
            self.lines = []

        def info(self, msg):
            self.lines.append(msg)

        warn = error = info

    log = Log()
    set_global_display(Display(DisplayMode.RESULT))
    try:
        agent.completion("[[tool:bash:echo from-tool]] Run it.", logger=log)
    finally:
        set_global_display(None)
    assert any(line.startswith("tool_call") for line in log.lines)
    assert "Tool said: from-tool" in capsys.readouterr().err


def test_completion_overrides(agent, scripted):
    traj = agent.completion("Hello.", system_prompt="You are override-persona.")
    assert "override-persona" in scripted.main_requests()[-1].system
    assert traj.system_prompt == "You are override-persona."
