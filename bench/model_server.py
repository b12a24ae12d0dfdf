"""caw's scripted model server, plus a timing log of when each answer's deltas left it.

    python bench/model_server.py --timing-log FILE [--latency S] [--delta-delay S]

prints its base URL on one line and serves until SIGTERM. ``Write N characters in
deltas of D (TOKEN)`` is answered with TOKEN and N characters in words of D (the
large-answer measurement; see :func:`large_answer`). For every main-agent
request that streams text it appends one JSON line to FILE:
``{"user": <latest user text>, "t_request": ..., "deltas": [[monotonic, cumulative chars], ...]}``,
each time taken right after the delta's bytes were written to the socket. The
clocks are CLOCK_MONOTONIC, so run.py can subtract them from the drivers' own
arrival times: that difference is the streaming latency of the whole chain.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from caw.testing.model_server import RecordedRequest, ScriptedModelServer
from caw.testing.script import Reply

LARGE = re.compile(r"Write (\d+) characters in deltas of (\d+) \((\w+)\)")


def large_message(chars: int, delta: int, token: str) -> str:
    return f"Write {chars} characters in deltas of {delta} ({token})"


def large_answer(chars: int, delta: int, token: str) -> str:
    """The answer to :func:`large_message`: TOKEN then words of ``delta`` characters (the server
    streams an answer word by word), ``chars`` characters in all."""
    word = "x" * (delta - 1) + " "
    head = token + " "
    return head + (word * ((chars - len(head)) // delta + 1))[: chars - len(head)]


def _responder(rec: RecordedRequest, reply: Reply) -> Reply | None:
    texts = rec.user_texts()
    match = LARGE.search(texts[-1]) if texts and rec.kind == "main" else None
    if match is None:
        return None
    return Reply(text=large_answer(int(match[1]), int(match[2]), match[3]))


def _delta_text(data: dict[str, Any]) -> str | None:
    """The answer text a streamed event carries, or None when it is not a text delta."""
    if data.get("type") == "content_block_delta":  # Anthropic Messages
        delta = data.get("delta") or {}
        return delta.get("text") if delta.get("type") == "text_delta" else None
    if data.get("type") == "response.output_text.delta":  # OpenAI Responses
        text = data.get("delta")
        return text if isinstance(text, str) else None
    return None


class TimingLog:
    """A StreamObserver that appends one JSON line per main request that streamed text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._current = threading.local()  # the request being answered on this handler thread

    def request_started(self, rec: RecordedRequest) -> None:
        texts = rec.user_texts()
        self._current.record = {
            "t_request": time.monotonic(),
            "user": texts[-1] if texts else "",
            "kind": rec.kind,
            "deltas": [],
            "chars": 0,
        }

    def event_written(self, rec: RecordedRequest, name: str, data: dict[str, Any]) -> None:
        record = getattr(self._current, "record", None)
        text = _delta_text(data)
        if record is not None and text:
            record["chars"] += len(text)
            record["deltas"].append([time.monotonic(), record["chars"]])

    def request_finished(self, rec: RecordedRequest) -> None:
        record, self._current.record = self._current.record, None
        if record["kind"] == "main" and record["deltas"]:
            del record["chars"]
            with self._lock, self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--delta-delay", type=float, default=0.0)
    parser.add_argument("--timing-log", type=Path, required=True)
    args = parser.parse_args()
    server = ScriptedModelServer(
        port=args.port,
        latency=args.latency,
        delta_delay=args.delta_delay,
        observer=TimingLog(args.timing_log),
        responder=_responder,
    )
    server.start()
    print(server.base_url, flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1.0):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
