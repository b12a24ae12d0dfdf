"""Guide "Display and logging": CAW_LOG modes, set_global_display, an AgentLogger."""

from __future__ import annotations

import logging
import os

from caw import Agent, Display, DisplayMode, set_global_display

os.environ["CAW_LOG"] = "result"  # read when a session first shows something
Agent().completion("Repeat after me: shown by the display")  # the test finds it in the output

set_global_display(Display(mode=DisplayMode.OFF))
logging.basicConfig(level=logging.INFO)
log = logging.getLogger("agent")
log.warn = log.warning  # type: ignore[method-assign]  # the guide's line: the AgentLogger protocol
seen: list[str] = []


class Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        seen.append(record.getMessage())


log.addHandler(Keep())
agent = Agent(logger=log)
agent.completion("[[tool:bash:echo logged-by-the-tool]] Run it.")
assert any(line.startswith("tool_call Bash") for line in seen), seen
assert any("logged-by-the-tool" in line for line in seen if line.startswith("tool_result")), seen
print("ok")
