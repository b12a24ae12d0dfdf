"""caw 0.1.9 (``coding-agent-wrapper`` from PyPI), the reference: a new CLI process per turn.

Runs under bench/.venv-caw019/bin/python (made by run.py), never with the repo's
caw on the path. Driven the way its README says:
``Agent(provider=...).start_session()`` then ``session.send(text)``.

    bench/.venv-caw019/bin/python bench/drivers/caw019.py PROVIDER
"""

from __future__ import annotations

import sys
import time
from typing import Any

from _proto import serve


class Caw019:
    def __init__(self, provider: str):
        import caw

        if not caw.__file__ or "venv-caw019" not in caw.__file__:
            raise SystemExit(f"caw019.py must run in bench/.venv-caw019, not with {caw.__file__}")
        self.agent = caw.Agent(provider=provider)
        self.session: Any = None  # a caw 0.1.9 Session: not the types of the caw in this repo

    def op_open(self, resume: str | None = None) -> dict:
        started = time.monotonic()
        self.session = self.agent.resume_session(resume) if resume else self.agent.start_session()
        return {"seconds": time.monotonic() - started}

    def op_turn(self, text: str) -> dict:
        started = time.monotonic()
        turn = self.session.send(text)
        seconds = time.monotonic() - started
        return {"seconds": seconds, "t_send": started, "text": turn.result or "", "deltas": []}

    def op_close(self) -> dict:
        if self.session is not None:
            self.session.end()
            self.session = None
        return {}


if __name__ == "__main__":
    serve(Caw019(sys.argv[1]))
