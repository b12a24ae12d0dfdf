"""A bounded property-based run over message bodies: every answer is well formed, the daemon keeps serving.

One daemon serves all examples. It has no backend CLI on its PATH, so no
random ``session/start`` can start a process. Each fuzzed frame must get
exactly the answers JSON-RPC 2.0 requires (one per request or invalid message,
none for notifications and responses, one array for a batch), each well formed
with a documented error code, and a probe request after it must still work.

The oracle parses as RFC 8259 does: ``NaN``, ``Infinity`` and ``-Infinity`` (which
Python's json accepts, and ``json.dumps`` writes for a float infinity) are parse errors.

Sizes: the hypothesis profile of tests/conftest.py, ``ci`` by default (250 fixed draws, the
same every run); ``--hypothesis-profile=long`` or ``CAW_FUZZ=long`` runs 20,000 random ones.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from caw_server import wire

DOCUMENTED = {code for code, _ in wire.ERRORS.values()}
METHODS = [
    *wire.METHODS,
    "initialize",
    "initialized",
    "$/cancelRequest",
    "$/setTrace",
    "no/such",
    "",
]


def _is_request_id(value: object) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool))
    )


def needs_answer(item: object) -> bool:
    """What JSON-RPC 2.0 says about one message: False for a valid notification or a response."""
    if not isinstance(item, dict) or item.get("jsonrpc") != "2.0":
        return True
    if "method" not in item:
        return not (
            "id" in item and _is_request_id(item["id"]) and ("result" in item or "error" in item)
        )
    if "id" in item:
        return True
    return not (
        isinstance(item["method"], str)
        and (item.get("params") is None or isinstance(item.get("params"), (dict, list)))
    )


def strict_json(body: bytes) -> object:
    """RFC 8259 JSON only: raises ValueError for NaN, Infinity and -Infinity, as for any non-JSON."""

    def reject(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(body.decode("utf-8"), parse_constant=reject)


def expected_answers(body: bytes) -> tuple[int, int | None]:
    """(answers expected, length of the batch answer or None)."""
    try:
        data = strict_json(body)
    except (ValueError, RecursionError):
        return 1, None
    if isinstance(data, list) and data:
        count = sum(needs_answer(item) for item in data)
        return (1, count) if count else (0, None)
    return int(needs_answer(data)), None


class Daemon:
    def __init__(self, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "caw_server", "--no-data-dir", "--log-level", "error", "--max-frame", "65536"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        self.probes = 0
        self._buffer = b""

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _fill(self, deadline: float) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, "the daemon did not answer in time"
        chunk = os.read(fd, 65536)
        assert chunk, "the daemon closed its output"
        self._buffer += chunk

    def read(self, timeout: float = 30.0) -> object:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._buffer:
            self._fill(deadline)
        header, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = int(header.split(b":")[1])
        while len(rest) < length:
            self._fill(deadline)
            header, _, rest = self._buffer.partition(b"\r\n\r\n")
        self._buffer = rest[length:]
        return json.loads(rest[:length])

    def exchange(self, body: bytes) -> list[object]:
        """Send one frame, then a probe; return every answer to the frame (all that JSON-RPC requires)."""
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.probes += 1
        probe_id = f"probe-{self.probes}"
        probe = json.dumps({"jsonrpc": "2.0", "id": probe_id, "method": "session/list"}).encode()
        self.write(b"Content-Length: %d\r\n\r\n" % len(probe) + probe)
        expected, _ = expected_answers(body)
        answers: list[object] = []
        probed = False
        while not probed or len(answers) < expected:
            message = self.read()
            if isinstance(message, dict) and message.get("id") == probe_id:
                assert message["result"] == {"sessions": []}
                probed = True
            elif not (isinstance(message, dict) and "method" in message):  # skip notifications
                answers.append(message)
        return answers

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory) -> Iterator[Daemon]:
    home = tmp_path_factory.mktemp("fuzz-home")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PATH": "/usr/bin:/bin",
    }
    for name in ("CAW_CLAUDE_BIN", "CAW_CODEX_BIN", "CAW_OPENCODE_BIN"):
        env.pop(name, None)
    d = Daemon(env)
    yield d
    assert d.close() == 0


def check_answer(answer: object) -> None:
    assert isinstance(answer, dict), answer
    assert answer.get("jsonrpc") == "2.0"
    assert "id" in answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        error = answer["error"]
        assert error["code"] in DOCUMENTED, error
        assert isinstance(error["message"], str) and error["data"]["kind"] in wire.ERRORS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
param_values = st.dictionaries(
    st.sampled_from(
        [
            "sessionId",
            "message",
            "handle",
            "provider",
            "cwd",
            "metadata",
            "workDoneToken",
            "exclusive",
            "id",
        ]
    ),
    json_values,
    max_size=4,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]) | json_values,
        "id": st.integers() | st.text(max_size=8) | json_values,
        "method": st.sampled_from(METHODS) | json_values,
        "params": param_values | json_values,
    },
)
bodies = (
    messages.map(lambda m: json.dumps(m).encode())
    | st.lists(messages, max_size=4).map(lambda ms: json.dumps(ms).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
)


@pytest.mark.timeout(3600)  # the long profile; every read has its own 30 s limit
@given(body=bodies)
# Found by a random run, when the oracle took Python's json's word that Infinity is JSON.
@example(body=b'[{"":Infinity}]')
@example(
    body=b'{"jsonrpc": "2.0", "id": 1, "method": "session/list", "params": {"cwd": -Infinity}}'
)
@example(body=b"NaN")
@example(body=b'{"jsonrpc": "2.0", "id": 1, "method": "$/cancelRequest", "params": {"id": 3}}')
@example(
    body=b'[{"jsonrpc": "2.0", "id": 1, "method": "initialized", "params": {}}, {"jsonrpc": "2.0", "method": "initialized"}]'
)
@example(body=b'{"jsonrpc": "2.0", "id": 7, "result": 19}')
@example(body=b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
@example(
    body=b'[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method"]'
)
@example(body=b"[]")
@example(body=b"[1,2,3]")
@example(
    body=b'[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]'
)
def test_any_body_gets_exactly_the_answers_json_rpc_requires(daemon, body):
    answers = daemon.exchange(body)
    expected, batch_length = expected_answers(body)
    assert len(answers) == expected, (body, answers)
    for answer in answers:
        if batch_length is not None:
            assert isinstance(answer, list) and len(answer) == batch_length, (body, answer)
        for item in answer if isinstance(answer, list) else [answer]:
            check_answer(item)
