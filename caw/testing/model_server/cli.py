"""``python -m caw.testing.model_server``: the server in a process of its own."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..script import Reply
from .server import RecordedRequest, ScriptedModelServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m caw.testing.model_server",
        description="A scripted model server for the Anthropic Messages and OpenAI Responses APIs.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="first-token delay in seconds")
    parser.add_argument("--delta-delay", type=float, default=0.0, help="seconds between deltas")
    parser.add_argument("--log", action="store_true", help="print one line per request on stderr")
    args = parser.parse_args(argv)
    server = ScriptedModelServer(
        args.host, args.port, latency=args.latency, delta_delay=args.delta_delay
    )
    if args.log:

        def log(rec: RecordedRequest, reply: Reply) -> None:
            texts = rec.user_texts()
            print(
                f"{rec.method} {rec.path} {rec.kind} {texts[-1:]!r} -> {reply.text!r}",
                file=sys.stderr,
                flush=True,
            )
            return

        server.set_responder(log)
    server.start()
    print(server.base_url, flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        while not done.wait(1.0):
            pass
    finally:
        server.stop()
    return 0
