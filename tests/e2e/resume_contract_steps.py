"""One process of the resume contract (start and send in one process, resume by handle in
another), run in a fresh interpreter by the e2e tests.

resume_contract_steps.py start  PROVIDER MESSAGE [--data-dir DIR]   -> {"handle", "session_id", "result"}
resume_contract_steps.py resume PROVIDER HANDLE MESSAGE [--data-dir DIR] -> {"result", "num_turns"}
"""

import argparse
import json
from typing import Any

from caw import Agent

parser = argparse.ArgumentParser()
parser.add_argument("step", choices=["start", "resume"])
parser.add_argument("provider")
parser.add_argument("args", nargs="+")
parser.add_argument("--data-dir")
ns = parser.parse_args()

agent = Agent(provider=ns.provider, data_dir=ns.data_dir)
if ns.step == "start":
    session = agent.start_session()
    turn = session.send(ns.args[0])
    out: dict[str, Any] = {
        "handle": session.resume_handle,
        "session_id": session.session_id,
        "result": turn.result,
    }
else:
    session = agent.resume_session(ns.args[0])
    turn = session.send(ns.args[1])
    out = {"result": turn.result, "num_turns": session.trajectory.num_turns}
session.end()
print(json.dumps(out))
