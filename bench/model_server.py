"""caw's scripted model server, plus a timing log of when each answer's deltas left it.

    python bench/model_server.py --timing-log FILE [--latency S] [--delta-delay S]

prints its base URL on one line and serves until SIGTERM. For every main-agent
request that streams text it appends one JSON line to FILE:
``{"user": <latest user text>, "t_request": ..., "deltas": [[monotonic, cumulative chars], ...]}``,
each time taken right after the delta's bytes were written to the socket. The
clocks are CLOCK_MONOTONIC, so run.py can subtract them from the drivers' own
arrival times: that difference is the streaming latency of the whole chain.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from caw.testing import model_server as ms

_current = threading.local()  # the request being answered on this handler thread
_log_lock = threading.Lock()


def _delta_text(name: str | None, data: dict) -> str | None:
    """The answer text a streamed event carries, or None when it is not a text delta."""
    if data.get("type") == "content_block_delta":  # Anthropic Messages
        delta = data.get("delta") or {}
        return delta.get("text") if delta.get("type") == "text_delta" else None
    if data.get("type") == "response.output_text.delta":  # OpenAI Responses
        return data.get("delta")
    return None


def instrument(log_path: Path) -> None:
    original_event = ms._Handler._event
    original_request = ms._Handler._model_request

    def _event(self, name, data):  # type: ignore[no-untyped-def]
        original_event(self, name, data)
        record = getattr(_current, "record", None)
        if record is not None:
            text = _delta_text(name, data)
            if text:
                record["chars"] += len(text)
                record["deltas"].append([time.monotonic(), record["chars"]])

    def _model_request(self, api, method, path, headers, body):  # type: ignore[no-untyped-def]
        _current.record = {
            "t_request": time.monotonic(),
            "user": None,
            "kind": None,
            "deltas": [],
            "chars": 0,
        }
        try:
            return original_request(self, api, method, path, headers, body)
        finally:
            record, _current.record = _current.record, None
            if record["kind"] == "main" and record["deltas"]:
                del record["chars"]
                with _log_lock, log_path.open("a") as f:
                    f.write(json.dumps(record) + "\n")

    ms._Handler._event = _event
    ms._Handler._model_request = _model_request


def _note_request(rec: ms.RecordedRequest, reply):  # responder hook: runs on the handler thread
    record = getattr(_current, "record", None)
    if record is not None:
        texts = rec.user_texts()
        record["user"] = texts[-1] if texts else ""
        record["kind"] = rec.kind


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--delta-delay", type=float, default=0.0)
    parser.add_argument("--timing-log", type=Path, required=True)
    args = parser.parse_args()
    instrument(args.timing_log)
    server = ms.ScriptedModelServer(
        port=args.port, latency=args.latency, delta_delay=args.delta_delay, responder=_note_request
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
