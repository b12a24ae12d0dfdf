"""Run in a new process by the tool tests: resume a session with the same Python tools and call one.

argv: provider, data_dir, cwd, handle (the environment is the CLI's). Prints the turn's result.
"""

from __future__ import annotations

import sys

from caw import Agent
from tests.tools.toolbox import Counter, add, call


def main() -> None:
    provider, data_dir, cwd, handle = sys.argv[1:5]
    agent = Agent(
        provider, data_dir=data_dir, cwd=cwd, tool_servers=[Counter()], stateless_tools=[add]
    )
    session = agent.resume_session(handle)
    try:
        print(session.send(call("counter", "bump", '{"by": 5}')).result)
    finally:
        session.end()


if __name__ == "__main__":
    main()
