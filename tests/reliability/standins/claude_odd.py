#!/usr/bin/env python3
"""A stand-in for ``claude -p --input-format stream-json`` that prints odd lines (a parser
fake, issue 21 finding 2): the real CLI does not print these, so nothing else can show how
caw reads them.

Each user line is answered ``answer to: <text>`` the way claude streams it (init,
message_start, one delta, the whole assistant message, result). A user text containing
``[[odd]]`` gets the line named by ``$STANDIN_ODD`` first; ``too-long`` prints a JSON line of
``$STANDIN_LONG`` bytes. The stand-in records each process start in ``$STANDIN_LOG``.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

ODD: dict[str, object] = {
    "string-block": {"type": "assistant", "message": {"id": "odd", "content": ["a bare string"]}},
    "message-not-object": {"type": "assistant", "message": "a bare string"},
    "text-not-string": {
        "type": "stream_event",
        "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": {"a": 1}}},
    },
    "event-not-object": {"type": "stream_event", "event": ["content_block_delta"]},
    "tool-input-not-object": {
        "type": "assistant",
        "message": {
            "id": "odd",
            "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": "ls"}],
        },
    },
    "user-content-not-list": {"type": "user", "message": {"content": 7}},
    "not-an-object": [1, 2, 3],
}


def emit(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> None:
    args = sys.argv[1:]
    session = str(uuid.uuid4())
    for flag in ("--session-id", "--resume"):
        if flag in args:
            session = args[args.index(flag) + 1]
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(json.dumps({"pid": os.getpid(), "argv": args}) + "\n")
    for n, raw in enumerate(sys.stdin, 1):
        line = json.loads(raw)
        if line.get("type") != "user":
            continue
        text = line["message"]["content"]
        emit({"type": "system", "subtype": "init", "session_id": session})
        if "[[odd]]" in text:
            odd = os.environ["STANDIN_ODD"]
            if odd == "too-long":
                size = int(os.environ["STANDIN_LONG"])
                emit({"type": "assistant", "message": {"id": "long", "content": [
                    {"type": "text", "text": "x" * size}]}})  # fmt: skip
            else:
                emit(ODD[odd])
        answer = f"answer to: {text}"
        message = f"msg_{n}"
        emit(
            {"type": "stream_event", "event": {"type": "message_start", "message": {"id": message}}}
        )
        emit({"type": "stream_event", "event": {"type": "content_block_delta",
              "delta": {"type": "text_delta", "text": answer}}})  # fmt: skip
        emit({"type": "assistant", "message": {"id": message, "content": [
            {"type": "text", "text": answer}]}})  # fmt: skip
        emit({"type": "result", "subtype": "success", "is_error": False, "result": answer,
              "session_id": session, "usage": {}, "total_cost_usd": 0})  # fmt: skip


if __name__ == "__main__":
    main()
