"""ToolGroup through each real CLI (offline, scripted model): READER blocks writes and commands.

claude and opencode take READER exactly (the file is not there afterwards, the command did not
run); codex cannot (its shell is its reader) and refuses it when the session starts.
"""

from __future__ import annotations

import pytest

from caw import AsyncAgent, ToolGroup
from caw.tools import ToolGroupUnsupported

pytestmark = pytest.mark.e2e


async def test_reader_cannot_write_or_run(provider, cli_env, work, scripted):
    agent = AsyncAgent(provider, cwd=work, env=cli_env(provider), tools=ToolGroup.READER)
    if provider == "codex":
        with pytest.raises(ToolGroupUnsupported, match=r"ToolGroup\.EXEC"):
            await agent.start_session()
        return
    session = await agent.start_session()
    try:
        await session.send("[[tool:write:written.txt:hello]] go")
        await session.send("[[tool:bash:touch ran.txt]] go")
        turn = await session.send("Repeat after me: done")  # the session goes on
        assert turn.result == "done"
    finally:
        await session.end()
    assert not (work / "written.txt").exists()
    assert not (work / "ran.txt").exists()


async def test_all_but_writer_still_runs_commands(provider, cli_env, work, scripted):
    """A group is no stricter than asked where the CLI can express it: EXEC stays."""
    agent = AsyncAgent(
        provider, cwd=work, env=cli_env(provider), tools=ToolGroup.ALL - ToolGroup.WRITER
    )
    session = await agent.start_session()
    try:
        await session.send("[[tool:write:written.txt:hello]] go")
        turn = await session.send("[[tool:bash:echo from-the-shell]] go")
        assert "from-the-shell" in turn.result, turn.output
    finally:
        await session.end()
    assert not (work / "written.txt").exists()
