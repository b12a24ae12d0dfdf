"""The floor for codex: one warm ``codex app-server`` driven directly (JSON-RPC lines on stdio).

No caw code. ``initialize`` + ``initialized``, ``thread/start`` (or
``thread/resume``), then per turn ``turn/start`` and the notifications up to
``turn/completed``. Same thread settings as caw's adapter (no approvals, full
access), so the two differ only in what caw adds.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time

from _proto import Deltas, die_with_parent, serve


class CodexFloor:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.thread_id: str | None = None
        self.ids = itertools.count(1)

    def _write(self, message: dict) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def _read(self) -> tuple[dict, float]:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            raw = self.proc.stdout.readline()
            now = time.monotonic()
            if not raw:
                raise RuntimeError(f"codex app-server ended (rc {self.proc.poll()})")
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if (
                "method" in msg and "id" in msg
            ):  # a server request (approvals): none expected without approvals
                self._write({"id": msg["id"], "result": {"decision": "accept"}})
                continue
            return msg, now

    def _request(self, method: str, params: dict) -> dict:
        request_id = next(self.ids)
        self._write({"id": request_id, "method": method, "params": params})
        while True:
            msg, _ = self._read()
            if msg.get("id") == request_id and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result") or {}

    def op_open(self, resume: str | None = None) -> dict:
        started = time.monotonic()
        self.proc = subprocess.Popen(
            ["codex", "app-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            preexec_fn=die_with_parent,
        )
        self._request(
            "initialize",
            {"clientInfo": {"name": "caw-bench-floor", "title": "caw bench floor", "version": "0"}},
        )
        self._write({"method": "initialized"})
        params = {"cwd": os.getcwd(), "approvalPolicy": "never", "sandbox": "danger-full-access"}
        if resume:
            result = self._request("thread/resume", {"threadId": resume, **params})
        else:
            result = self._request("thread/start", params)
        self.thread_id = result["thread"]["id"]
        return {"seconds": time.monotonic() - started, "pid": self.proc.pid, "key": self.thread_id}

    def op_turn(self, text: str) -> dict:
        deltas = Deltas()
        started = time.monotonic()
        request_id = next(self.ids)
        self._write(
            {
                "id": request_id,
                "method": "turn/start",
                "params": {"threadId": self.thread_id, "input": [{"type": "text", "text": text}]},
            }
        )
        turn_id = None
        answer = ""
        early: list[tuple[dict, float]] = []  # notifications read before turn/start answered
        while True:
            msg, now = self._read()
            if msg.get("id") == request_id and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError(f"turn/start: {msg['error']}")
                turn_id = (msg.get("result") or {}).get("turn", {}).get("id")
                pending, early = early, []
                for m, t in pending:
                    answer, done = self._notification(m, t, turn_id, deltas, answer)
                    if done:
                        return {
                            "seconds": t - started,
                            "t_send": started,
                            "text": answer,
                            "deltas": deltas.points,
                        }
                continue
            if turn_id is None:
                early.append((msg, now))
                continue
            answer, done = self._notification(msg, now, turn_id, deltas, answer)
            if done:
                return {
                    "seconds": now - started,
                    "t_send": started,
                    "text": answer,
                    "deltas": deltas.points,
                }

    def _notification(
        self, msg: dict, now: float, turn_id: str | None, deltas: Deltas, answer: str
    ) -> tuple[str, bool]:
        method, params = msg.get("method"), msg.get("params") or {}
        if params.get("threadId") not in (None, self.thread_id):
            return answer, False
        if method == "item/agentMessage/delta" and params.get("turnId") == turn_id:
            deltas.add(params.get("delta") or "", now)
        elif method == "item/completed" and params.get("turnId") == turn_id:
            item = params.get("item") or {}
            if item.get("type") == "agentMessage":
                answer = item.get("text") or answer
        elif method == "turn/completed" and (params.get("turn") or {}).get("id") == turn_id:
            turn = params["turn"]
            if turn.get("status") != "completed":
                raise RuntimeError(f"codex turn {turn.get('status')}: {turn.get('error')}")
            return answer, True
        return answer, False

    def op_close(self) -> dict:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(5)
        self.proc = None
        return {}


if __name__ == "__main__":
    serve(CodexFloor())
