"""The floor for opencode: one warm ``opencode serve`` driven directly over HTTP + SSE.

No caw code, stdlib only. serve runs with a random ``OPENCODE_SERVER_PASSWORD``
(as caw runs it); a thread reads ``GET /event`` for the text deltas, and a turn
is one blocking ``POST /session/{id}/message``, timed until it returns.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time

from _proto import Deltas, die_with_parent, serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpencodeFloor:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.auth = ""
        self.session_id: str | None = None
        self.events: queue.Queue[tuple[float, dict]] = queue.Queue()
        self.connected = threading.Event()
        self.http: http.client.HTTPConnection | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self.auth, "Content-Type": "application/json"}

    def _post(self, path: str, body: dict) -> dict:
        assert self.http is not None
        self.http.request("POST", path, body=json.dumps(body), headers=self._headers())
        response = self.http.getresponse()
        data = response.read()
        if response.status >= 400:
            raise RuntimeError(f"POST {path}: HTTP {response.status}: {data[:300]!r}")
        return json.loads(data) if data else {}

    def _read_events(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        conn.request(
            "GET", "/event", headers={"Authorization": self.auth, "Accept": "text/event-stream"}
        )
        response = conn.getresponse()
        while True:
            line = response.readline()
            now = time.monotonic()
            if not line:
                return
            if not line.startswith(b"data:"):
                continue
            try:
                event = json.loads(line[5:])
            except ValueError:
                continue
            if event.get("type") == "server.connected":
                self.connected.set()
            self.events.put((now, event))

    def op_open(self, resume: str | None = None) -> dict:
        started = time.monotonic()
        password = secrets.token_urlsafe(24)
        self.auth = "Basic " + base64.b64encode(f"opencode:{password}".encode()).decode()
        self.port = free_port()
        env = {
            **os.environ,
            "OPENCODE_SERVER_PASSWORD": password,
            "OPENCODE_SERVER_USERNAME": "opencode",
        }
        argv = ["opencode", "serve", "--hostname", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            env=env,
            preexec_fn=die_with_parent,
        )
        stdout = self.proc.stdout
        assert stdout is not None
        while b"listening" not in (line := stdout.readline()):
            if not line:
                raise RuntimeError(
                    f"opencode serve exited before listening (rc {self.proc.wait()})"
                )
        threading.Thread(
            target=lambda: [None for _ in iter(stdout.readline, b"")], daemon=True
        ).start()
        threading.Thread(target=self._read_events, daemon=True).start()
        if not self.connected.wait(30):
            raise RuntimeError("the event stream did not connect")
        self.http = http.client.HTTPConnection("127.0.0.1", self.port)
        self.session_id = resume or self._post("/session", {})["id"]
        return {"seconds": time.monotonic() - started, "pid": self.proc.pid, "key": self.session_id}

    def op_turn(self, text: str) -> dict:
        while not self.events.empty():  # late events of an earlier turn
            self.events.get_nowait()
        started = time.monotonic()
        answer = self._post(
            f"/session/{self.session_id}/message", {"parts": [{"type": "text", "text": text}]}
        )
        seconds = time.monotonic() - started
        info = answer.get("info") or {}
        if info.get("error"):
            raise RuntimeError(f"opencode reported {info['error']}")
        result = "".join(
            p.get("text", "") for p in answer.get("parts") or [] if p.get("type") == "text"
        )
        # Untimed: collect this answer's deltas as the event stream delivered them, and note when the
        # stream said the answer was complete (a client that waits for the stream, as caw does, waits that long).
        deltas = Deltas()
        completed_at = None
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                when, event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            props = event.get("properties") or {}
            if (
                event.get("type") == "message.part.delta"
                and props.get("messageID") == info.get("id")
                and props.get("field") == "text"
            ):
                deltas.add(props.get("delta") or "", when)
            elif event.get("type") == "message.updated" and (props.get("info") or {}).get(
                "id"
            ) == info.get("id"):
                if ((props.get("info") or {}).get("time") or {}).get("completed"):
                    completed_at = when
            elif event.get("type") == "session.idle" and props.get("sessionID") == self.session_id:
                break
        reply = {"seconds": seconds, "t_send": started, "text": result, "deltas": deltas.points}
        if completed_at is not None:
            reply["stream_done_after_answer"] = completed_at - (started + seconds)
        return reply

    def op_close(self) -> dict:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        return {}


if __name__ == "__main__":
    serve(OpencodeFloor())
