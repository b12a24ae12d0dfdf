"""caw's library: ``Agent(provider).start_session()`` then ``Session.send`` per turn (the sync API).

python bench/drivers/caw_library.py PROVIDER [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING

from _proto import Deltas, serve

if TYPE_CHECKING:
    from caw import Session


class CawLibrary:
    def __init__(self, provider: str, data_dir: str | None):
        from caw import Agent

        self.agent = Agent(provider=provider, data_dir=data_dir, cwd=os.getcwd())
        self.session: Session | None = None

    def op_open(self, resume: str | None = None) -> dict:
        started = time.monotonic()
        self.session = self.agent.resume_session(resume) if resume else self.agent.start_session()
        return {"seconds": time.monotonic() - started}

    def op_turn(self, text: str) -> dict:
        from caw import TextDelta

        deltas = Deltas()

        def on_event(event) -> None:
            if isinstance(event, TextDelta):
                deltas.add(event.text, time.monotonic())

        assert self.session is not None, "op_open comes first"
        started = time.monotonic()
        turn = self.session.send(text, on_event=on_event)
        seconds = time.monotonic() - started
        return {
            "seconds": seconds,
            "t_send": started,
            "text": turn.result or "",
            "deltas": deltas.points,
            "key": self.session.resume_handle,
        }

    def op_close(self) -> dict:
        if self.session is not None:
            self.session.end()
            self.session = None
        return {}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("provider")
    parser.add_argument("--data-dir")
    ns = parser.parse_args()
    serve(CawLibrary(ns.provider, ns.data_dir))
