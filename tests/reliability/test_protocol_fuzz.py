"""Hostile input against a real caw-server over stdio, while it serves a live session.

A hypothesis fuzzer draws frames and messages (bad Content-Length, truncated and
oversized bodies, invalid UTF-8, non-JSON, JSON that is not a request, wrong types in
every param of every method, unknown methods, notifications, responses, batches,
several frames in one write). For each draw an independent oracle, written from the
JSON-RPC 2.0 specification and the LSP base protocol rather than from the daemon's
code, says which answers must come back: the spec's error with the spec's id, or
nothing where the spec says to drop. After each draw a probe request must still be
answered; at the end the live session, whose slow turn ran through the whole fuzz,
must have its answer intact and answer again from its history.

Sizes: the hypothesis profile of tests/conftest.py, ``ci`` by default (250 fixed draws, the
same every run); ``--hypothesis-profile=long`` or ``CAW_FUZZ=long`` runs 20,000 random ones.
The JSON-RPC 2.0 specification's own examples of invalid calls run as fixed cases.
"""

from __future__ import annotations

import itertools
import json
import math
import time
import typing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import UnionType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caw_server import wire

from .conftest import all_providers_env
from .stdio import StdioDaemon, frame

pytestmark = [pytest.mark.e2e, pytest.mark.reliability("protocol")]

MAX_FRAME = 65536
PARSE, INVALID, NOT_FOUND, PARAMS, INTERNAL = -32700, -32600, -32601, -32602, -32603
KIND_OF_CODE = {code: kind for kind, (code, _) in wire.ERRORS.items()}
CAW_METHODS = list(wire.METHODS)
# Everything the daemon answers as a method; the fuzzer draws unknown names outside this set.
# The LSP lifecycle (initialize, shutdown, exit) changes the daemon's state by design: never drawn.
KNOWN = set(CAW_METHODS) | {
    "initialize", "initialized", "shutdown", "exit", "$/cancelRequest", "$/setTrace", "$/progress",
    "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose",
    "notebookDocument/didOpen", "notebookDocument/didChange", "notebookDocument/didClose",
    "workspace/didChangeWorkspaceFolders", "workspace/executeCommand", "window/workDoneProgress/cancel",
}  # fmt: skip


# --- the oracle -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Err:
    """An error answer with this code and id (and, for -32602, naming this field)."""

    code: int
    id: Any
    field: str | None = None


@dataclass(frozen=True)
class AnyAnswer:
    """Some answer with this id: a result or an application/params error, never a protocol or internal error."""

    id: Any


@dataclass
class Batch:
    items: list[Err | AnyAnswer]


Expected = Err | AnyAnswer | Batch


def strict_json(body: bytes) -> Any:
    """RFC 8259 JSON only (Python's json also takes NaN and Infinity): raises ValueError otherwise."""

    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(body.decode("utf-8"), parse_constant=reject)


def _valid_id(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool))
    )


def expect_message(m: Any, wrong_field: str | None) -> Err | AnyAnswer | None:
    """What JSON-RPC 2.0 says about one message (None: no answer)."""
    if not isinstance(m, dict):
        return Err(INVALID, None)
    has_id = "id" in m
    if has_id and not _valid_id(m["id"]):
        return Err(INVALID, None)
    rid = m.get("id")
    if m.get("jsonrpc") != "2.0":
        return Err(INVALID, rid)
    if "method" not in m:
        if has_id and ("result" in m or "error" in m):
            return None  # a response object: nothing answers a response
        return Err(INVALID, rid)
    if not isinstance(m["method"], str):
        return Err(INVALID, rid)
    params = m.get("params")
    if params is not None and not isinstance(params, (dict, list)):
        return Err(INVALID, rid)
    if not has_id:
        return None  # a notification is never answered, whatever it holds
    if m["method"] not in KNOWN:
        return Err(NOT_FOUND, rid)
    if wrong_field is not None:
        return Err(PARAMS, rid, wrong_field)
    return AnyAnswer(rid)


def expect_body(body: bytes, wrong: dict[int, str]) -> Expected | None:
    """What one frame's body must produce. ``wrong``: id(message) -> the field drawn with a wrong type."""
    try:
        value = strict_json(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Err(PARSE, None)
    if isinstance(value, list):
        if not value:
            return Err(INVALID, None)  # "an empty Array": one error, not an array
        items = [
            e for e in (expect_message(m, _wrong_of(m, wrong)) for m in value) if e is not None
        ]
        return Batch(items) if items else None
    return expect_message(value, _wrong_of(value, wrong))


def _wrong_of(message: Any, wrong: dict[Any, str]) -> str | None:
    return (
        wrong.get(message.get("id"))
        if isinstance(message, dict) and _valid_id(message.get("id"))
        else None
    )


# --- what the fuzzer draws ------------------------------------------------------------------

_counter = itertools.count(1)


class Fresh:
    """A placeholder for a request id, made unique when the case is written (ids never repeat)."""

    def __init__(self, as_int: bool):
        self.as_int = as_int

    def value(self) -> int | str:
        # Fixed width: the drawn cut points of a frame depend on its length, which must not change
        # between hypothesis' runs of the same example.
        n = next(_counter)
        return 10**12 + n if self.as_int else f"fz-{n:09d}"


JSON_TYPES = ("string", "integer", "number", "boolean", "null", "array", "object")
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
# Empty containers are leaves, so that hypothesis sees the extension use its argument.
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars | st.just([]) | st.just({}),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)
OF_TYPE = {
    "string": st.text(max_size=12),
    "integer": st.integers(-(2**53), 2**53),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(scalars, max_size=3),
    "object": st.dictionaries(st.text(max_size=8), scalars, max_size=3),
}


def json_types(annotation: Any) -> set[str]:
    """The JSON types a field's annotation admits (from the type, not from pydantic's validation)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, UnionType):
        return set().union(*(json_types(a) for a in typing.get_args(annotation)))
    if annotation is type(None):
        return {"null"}
    if origin is typing.Literal:  # the JSON types of its values
        return set().union(*(json_types(type(v)) for v in typing.get_args(annotation)))
    if annotation is Any:
        return set(JSON_TYPES)
    base = origin or annotation
    return {
        str: {"string"},
        bool: {"boolean"},
        int: {"integer"},
        float: {"integer", "number"},
        dict: {"object"},
        list: {"array"},
    }[base]


FIELDS = {
    method: {(f.alias or name): json_types(f.annotation) for name, f in model.model_fields.items()}
    for method, (model, _, _) in wire.METHODS.items()
}


@st.composite
def caw_request(draw) -> tuple[dict, str | None]:
    """A request to a caw method: params with one field of a wrong JSON type, valid-typed ones, or positional."""
    method = draw(st.sampled_from(CAW_METHODS))
    fields = FIELDS[method]
    params: Any = {}
    for name, types in fields.items():  # some valid-typed fields
        if draw(st.booleans()):
            params[name] = draw(OF_TYPE[draw(st.sampled_from(sorted(types)))])
    wrong: str | None = None
    style = draw(st.sampled_from(["wrong-type", "wrong-type", "valid-types", "positional"]))
    if method == "session/start" and style == "valid-types":
        style = "wrong-type"  # a valid session/start would start a backend: not a fuzz case
    if style == "wrong-type":
        wrong = draw(st.sampled_from(sorted(fields)))
        params[wrong] = draw(
            OF_TYPE[draw(st.sampled_from(sorted(set(JSON_TYPES) - fields[wrong])))]
        )
    elif style == "positional":
        params, wrong = draw(st.lists(scalars, max_size=3)), "params"
    if draw(st.booleans()):  # unknown keys are ignored (forward compatible)
        params = (
            params
            if isinstance(params, list)
            else {**params, draw(st.sampled_from(["extra", "session_id", "x"])): draw(scalars)}
        )
    return {
        "jsonrpc": "2.0",
        "id": Fresh(draw(st.booleans())),
        "method": method,
        "params": params,
    }, wrong


unknown_methods = st.sampled_from(
    ["session/explode", "sessions/list", "Session/List", "rpc.discover", "$/unknown", "foobar", ""]
) | st.text(max_size=20)

other_messages = st.one_of(
    # unknown methods, as requests and as notifications
    st.builds(
        lambda m, i: {"jsonrpc": "2.0", "id": Fresh(i), "method": m},
        unknown_methods.filter(lambda m: m not in KNOWN),
        st.booleans(),
    ),
    # (a session/start notification would start a backend nobody hears of: not drawn)
    st.builds(
        lambda m, p: {"jsonrpc": "2.0", "method": m, "params": p},
        unknown_methods.filter(lambda m: m not in KNOWN)
        | st.sampled_from([m for m in CAW_METHODS if m != "session/start"]),
        st.dictionaries(st.text(max_size=6), scalars, max_size=2),
    ),
    # not a request: wrong or missing jsonrpc, ids and methods and params of the wrong type, responses
    st.builds(
        lambda v, m: {"jsonrpc": v, "id": Fresh(True), "method": m},
        st.sampled_from(["1.0", 2.0, 2, None, "2.0 "]),
        st.sampled_from(CAW_METHODS),
    ),
    st.builds(lambda m: {"id": Fresh(False), "method": m}, st.sampled_from(CAW_METHODS)),
    st.builds(
        lambda i, m: {"jsonrpc": "2.0", "id": i, "method": m},
        st.sampled_from([True, False, 1.5, [], {}, [1]])
        | st.dictionaries(st.text(max_size=3), scalars, max_size=2),
        st.sampled_from(CAW_METHODS),
    ),
    st.builds(
        lambda m: {"jsonrpc": "2.0", "id": Fresh(True), "method": m},
        st.integers() | st.none() | st.lists(scalars, max_size=2) | st.booleans(),
    ),
    st.builds(
        lambda p: {"jsonrpc": "2.0", "id": Fresh(False), "method": "session/list", "params": p},
        st.text(max_size=5) | st.integers() | st.booleans(),
    ),
    st.builds(
        lambda r: {"jsonrpc": "2.0", "id": Fresh(True), **r},
        st.sampled_from(
            [{"result": 1}, {"error": {"code": 1, "message": "x"}}, {"result": None}, {}]
        ),
    ),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    json_values.filter(lambda v: not isinstance(v, (dict, list))),
)


# id -> the frame kind and body it was sent in (to explain an answer that arrives unasked).
ORIGIN: dict[Any, str] = {}
_rendered_ids: list[Any] = []


def _render(value: Any) -> Any:
    if isinstance(value, Fresh):
        rendered = value.value()
        _rendered_ids.append(rendered)
        return rendered
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v) for v in value]
    return value


@dataclass
class Case:
    """Bytes to write and what each part of them must produce."""

    data: bytes = b""
    expected: list[Expected] = field(default_factory=list)
    what: list[str] = field(default_factory=list)

    def add(self, data: bytes, expected: Expected | None, what: str) -> None:
        for request_id in _rendered_ids:
            ORIGIN[request_id] = f"{what} frame {data[:200]!r}"
        _rendered_ids.clear()
        self.data += data
        if expected is not None:
            self.expected.append(expected)
        self.what.append(what)


@st.composite
def a_body(draw) -> tuple[Any, dict]:
    """A JSON value to send and the wrong field of each request in it (by placeholder)."""

    def one():
        if draw(st.booleans()):
            message, wrong = draw(caw_request())
            return message, wrong
        return draw(other_messages), None

    if draw(st.integers(0, 5)) == 0:  # a batch
        items = [one() for _ in range(draw(st.integers(0, 4)))]
        return [m for m, _ in items], {id(m): w for m, w in items if w}
    message, wrong = one()
    return message, ({id(message): wrong} if wrong else {})


def _rendered(draw) -> tuple[bytes, Expected | None]:
    value, wrong_by_obj = draw(a_body())
    _rendered_ids.clear()
    # render placeholders, keep track of the wrong field by the rendered id
    wrong: dict[Any, str] = {}
    if isinstance(value, list):
        rendered = []
        for m in value:
            r = _render(m)
            if id(m) in wrong_by_obj and isinstance(r, dict):
                wrong[r.get("id")] = wrong_by_obj[id(m)]
            rendered.append(r)
    else:
        rendered = _render(value)
        if id(value) in wrong_by_obj and isinstance(rendered, dict):
            wrong[rendered.get("id")] = wrong_by_obj[id(value)]
    body = json.dumps(rendered, allow_nan=False).encode()
    return body, expect_body(body, wrong)


@st.composite
def cases(draw) -> Case:
    case = Case()
    for _ in range(draw(st.integers(1, 3))):  # several frames in one write
        kind = draw(st.sampled_from(["message"] * 6 + ["bad-utf8", "not-json", "truncated", "cut-and-padded", "bad-length",
                                                       "no-length", "bad-header", "conflicting-lengths", "empty", "oversized",
                                                       "extra-headers", "bare-json"]))  # fmt: skip
        body, expected = _rendered(draw)
        if kind == "bare-json" and body[:1] not in (b"{", b"["):
            # A stray line that is neither a header nor JSON text merges with the next frame's
            # header block (the LSP base protocol has no resync point): not a case with one answer.
            kind = "message"
        if kind == "message":
            case.add(frame(body), expected, "message")
        elif kind == "extra-headers":
            head = (
                b"content-length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
                % len(body)
            )
            case.add(head + body, expected, kind)
        elif kind == "bad-utf8":
            at = draw(st.integers(0, len(body)))
            bad = (
                body[:at]
                + draw(
                    st.sampled_from(
                        [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]
                    )
                )
                + body[at:]
            )
            case.add(frame(bad), Err(PARSE, None), kind)
        elif kind == "not-json":
            text = draw(
                st.binary(max_size=40)
                | st.text(max_size=40).map(str.encode)
                | st.sampled_from([body + b" x", b"NaN", b"[-Infinity]"])
            )
            case.add(
                frame(text), expect_body(text, {}), kind
            )  # the oracle decides (a stray "1" is JSON)
        elif kind == "truncated":  # the header counts the truncated body
            cut = body[: draw(st.integers(0, max(0, len(body) - 1)))]
            case.add(frame(cut), expect_body(cut, {}), kind)
        elif kind == "cut-and-padded":  # the header promised more; the rest of the frame is filler
            cut = body[: draw(st.integers(0, max(0, len(body) - 1)))]
            padded = cut + b"\n" * (len(body) - len(cut))
            case.add(
                b"Content-Length: %d\r\n\r\n" % len(body) + padded, expect_body(padded, {}), kind
            )
        elif kind == "bad-length":
            value = draw(
                st.sampled_from(
                    [b"", b"abc", b"-1", b"+5", b"1.5", b"0x10", b"12a", b"1e3", b"9" * 25]
                )
            )
            case.add(b"Content-Length: " + value + b"\r\n\r\n", Err(PARSE, None), kind)
        elif kind == "no-length":
            case.add(b"Content-Type: application/json\r\n\r\n", Err(PARSE, None), kind)
        elif (
            kind == "bad-header"
        ):  # a line that is no header, then a valid length and body: the frame is refused
            case.add(
                b"this is not a header\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
                Err(PARSE, None),
                kind,
            )
        elif kind == "conflicting-lengths":
            case.add(
                b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(body), len(body) + 1)
                + body,
                Err(PARSE, None),
                kind,
            )
        elif kind == "empty":
            case.add(b"Content-Length: 0\r\n\r\n", Err(PARSE, None), kind)
        elif kind == "oversized":
            size = draw(st.integers(MAX_FRAME + 1, 3 * MAX_FRAME))
            case.add(frame((body * (size // max(1, len(body)) + 1))[:size]), Err(PARSE, None), kind)
        elif kind == "bare-json":  # a message without framing, on one line
            case.add(body + b"\r\n", Err(PARSE, None), kind)
    return case


# --- checking the answers -------------------------------------------------------------------


def check_error_shape(answer: Any) -> None:
    assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0" and "id" in answer, answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        error = answer["error"]
        assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str), answer
        assert error["code"] in KIND_OF_CODE, f"undocumented code: {answer}"
        assert error["data"]["kind"] == KIND_OF_CODE[error["code"]], answer


def matches(answer: Any, expected: Err | AnyAnswer) -> bool:
    if not isinstance(answer, dict) or answer.get("id") != expected.id:
        return False
    code = answer["error"]["code"] if "error" in answer else None
    if isinstance(expected, AnyAnswer):
        return code not in (PARSE, INVALID, NOT_FOUND, INTERNAL)
    if code != expected.code:
        return False
    if expected.field is not None:
        named = [e["field"] for e in answer["error"]["data"].get("errors") or []]
        return (
            any(n == expected.field or n.startswith(expected.field + ".") for n in named)
            or expected.field in answer["error"]["message"]
        )
    return True


def match_all(answers: list[Any], expected: list[Expected]) -> list[str]:
    """Pair every answer with an expectation; return what is left over on either side."""
    problems = []
    remaining = list(answers)
    for exp in expected:
        if isinstance(exp, Batch):
            found = next(
                (
                    a
                    for a in remaining
                    if isinstance(a, list)
                    and len(a) == len(exp.items)
                    and _match_batch(a, exp.items)
                ),
                None,
            )
        else:
            found = next(
                (a for a in remaining if not isinstance(a, list) and matches(a, exp)), None
            )
        if found is None:
            problems.append(f"missing answer: {exp}")
        else:
            remaining.remove(found)
    problems += [f"unexpected answer: {json.dumps(a)[:300]}" for a in remaining]
    return problems


def _match_batch(answers: list[Any], items: list[Err | AnyAnswer]) -> bool:
    left = list(answers)
    for item in items:
        hit = next((a for a in left if matches(a, item)), None)
        if hit is None:
            return False
        left.remove(hit)
    return not left


# --- the daemon under fire ------------------------------------------------------------------


class LiveDaemon:
    def __init__(self, daemon: StdioDaemon):
        self.d = daemon
        self.probes = itertools.count(1)
        self.background: dict[
            Any, Any
        ] = {}  # ids of requests that run across the fuzz, and their answers
        self.examples = 0
        self.kinds: Counter[str] = Counter()
        # Draws by how many extra probes their last answer took, and the draws in which an extra
        # probe came back with nothing new while an answer was still due: the harness once gave
        # up there, and the answer then landed in the next draw (docs/reliability.md).
        self.late_rounds: Counter[int] = Counter()
        self.stalled: list[str] = []  # what was still due, per stalled draw

    def exchange(self, case: Case, timeout: float = 30.0) -> None:
        """Write the case, then a probe; every answer until the probe's (and any late one expected) must match."""
        self.examples += 1
        self.kinds.update(case.what)
        try:
            self._exchange(case, timeout)
        except BaseException:
            self._drain(timeout)  # so that the next example (hypothesis replays) starts clean
            raise

    def _drain(self, timeout: float) -> None:
        marker = f"drain-{next(self.probes)}"
        try:
            self.d.send({"jsonrpc": "2.0", "id": marker, "method": "session/list"})
            for answer in self.d.collect(marker, timeout):
                self._background(answer)
        except (TimeoutError, ConnectionError, OSError):
            pass

    def _exchange(self, case: Case, timeout: float) -> None:
        self.d.write(case.data)
        probe = f"probe-{next(self.probes)}"
        self.d.send({"jsonrpc": "2.0", "id": probe, "method": "session/list"})
        got = [a for a in self.d.collect(probe, timeout) if not self._background(a)]
        probe_answer = got.pop()
        assert probe_answer.get("result", {}).get("sessions"), f"the probe failed: {probe_answer}"
        expected_ids = {
            e.id for e in case.expected if not isinstance(e, Batch) and e.id is not None
        }
        batches = sum(isinstance(e, Batch) for e in case.expected)

        def due() -> list[str]:
            have_ids = {a.get("id") for a in got if isinstance(a, dict)}
            missing = [f"id {i!r} ({ORIGIN.get(i, '?')[:160]})" for i in expected_ids - have_ids]
            missing += ["a batch"] * (batches - sum(isinstance(a, list) for a in got))
            return missing

        def outstanding() -> bool:
            return bool(due())

        # Handlers run concurrently, so an answer may come after one probe's, or after the next
        # one's too: keep probing until it came, or until the time is up (then it is missing).
        deadline = time.monotonic() + timeout
        rounds, stalled = 0, ""
        while outstanding() and time.monotonic() < deadline:
            rounds += 1
            marker = f"late-{next(self.probes)}"
            self.d.send({"jsonrpc": "2.0", "id": marker, "method": "session/list"})
            more = [a for a in self.d.collect(marker, timeout) if not self._background(a)]
            more.pop()
            got += more
            if not more and not stalled and outstanding():
                stalled = f"after {rounds} probe(s): " + "; ".join(due())
        self.late_rounds[rounds] += 1
        if stalled:
            self.stalled.append(stalled)
        for answer in got:
            for item in answer if isinstance(answer, list) else [answer]:
                check_error_shape(item)
        problems = match_all(got, case.expected)
        for answer in got:  # say where an unasked-for answer's id came from
            if (
                isinstance(answer, dict)
                and answer.get("id") in ORIGIN
                and not any(getattr(e, "id", None) == answer["id"] for e in case.expected)
            ):
                problems.append(f"  (id {answer['id']!r} was sent in a {ORIGIN[answer['id']]})")
        assert not problems, f"for {case.what} ({case.data[:300]!r}):\n" + "\n".join(problems)
        assert not self.d.violations, self.d.violations
        assert self.d.alive()

    def _background(self, answer: Any) -> bool:
        if isinstance(answer, dict) and answer.get("id") in self.background:
            self.background[answer["id"]] = answer
            return True
        return False


@pytest.fixture(scope="module")
def live(model_server, tmp_path_factory) -> Iterator[LiveDaemon]:
    """One daemon for the module, with a live claude session (fact given) whose slow turn runs throughout."""
    root = tmp_path_factory.mktemp("fuzz")
    env = all_providers_env(model_server.base_url, root / "homes")
    daemon = StdioDaemon(
        "--data-dir",
        str(root / "data"),
        "--log-level",
        "debug",
        "--max-frame",
        str(MAX_FRAME),
        env=env,
        cwd=str(root),
    )
    live = LiveDaemon(daemon)
    try:
        daemon.initialize()
        sid = daemon.request("session/start", {"provider": "claude_code"}, timeout=120)["sessionId"]
        daemon.request(
            "session/send",
            {"sessionId": sid, "message": "My fuzz marker is amber-owl. Remember that."},
            timeout=120,
        )
        live.session_id = sid  # type: ignore[attr-defined]
        yield live
    finally:
        assert daemon.close() == 0
        assert not daemon.violations, daemon.violations


@pytest.mark.timeout(
    3600
)  # the long profile; every exchange has its own 30 s limit, so a hang still fails fast
def test_fuzzed_frames_and_messages_get_the_specified_answers(live, leaks, record_property):
    leaks.client(live.d)
    sid = live.session_id
    slow_id = live.d.next_id("slow")
    live.background[slow_id] = None
    live.d.send({"jsonrpc": "2.0", "id": slow_id, "method": "session/send",
                 "params": {"sessionId": sid, "message": "[[slow:8]] Repeat after me: the live session survives the fuzz"}})  # fmt: skip

    @given(case=cases())  # the profile's size (tests/conftest.py)
    def run(case: Case) -> None:
        live.exchange(case)

    before = live.examples
    run()
    record_property("cases", live.examples - before)
    record_property("frame_kinds", dict(live.kinds))
    record_property("late_answer_rounds", dict(sorted(live.late_rounds.items())))
    record_property("late_answer_stalls", live.stalled)

    # the live session: its slow turn came through intact, and it answers from its history
    deadline_probe = live.d.next_id("wait")
    while live.background[slow_id] is None:
        live.d.send({"jsonrpc": "2.0", "id": deadline_probe, "method": "session/list"})
        for answer in live.d.collect(deadline_probe, 60):
            live._background(answer)
        deadline_probe = live.d.next_id("wait")
    assert (
        live.background[slow_id]["result"]["turn"]["result"] == "the live session survives the fuzz"
    )
    answer = live.d.request(
        "session/send", {"sessionId": sid, "message": "What is my fuzz marker?"}, timeout=120
    )
    assert answer["turn"]["result"] == "amber-owl"
    listed = live.d.request("session/list", {})["sessions"]
    assert [s["live"] for s in listed if s["sessionId"] == sid] == [True]


# --- the JSON-RPC 2.0 specification's examples (section 7), verbatim -------------------------

SPEC_EXAMPLES: dict[str, tuple[bytes, list[Expected]]] = {
    "invalid JSON": (
        b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
        [Err(PARSE, None)],
    ),
    "non-existent method": (
        b'{"jsonrpc": "2.0", "method": "foobar", "id": "1"}',
        [Err(NOT_FOUND, "1")],
    ),
    "invalid Request object": (
        b'{"jsonrpc": "2.0", "method": 1, "params": "bar"}',
        [Err(INVALID, None)],
    ),
    "batch, invalid JSON": (
        b'[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]',
        [Err(PARSE, None)],
    ),
    "empty Array": (b"[]", [Err(INVALID, None)]),
    "invalid Batch (but not empty)": (b"[1]", [Batch([Err(INVALID, None)])]),
    "invalid Batch": (b"[1,2,3]", [Batch([Err(INVALID, None)] * 3)]),
    "Batch": (
        (
            b'[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},'
            b' {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"}, {"foo": "boo"},'
            b' {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"}, {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]'
        ),
        [
            Batch(
                [
                    Err(NOT_FOUND, "1"),
                    Err(NOT_FOUND, "2"),
                    Err(INVALID, None),
                    Err(NOT_FOUND, "5"),
                    Err(NOT_FOUND, "9"),
                ]
            )
        ],
    ),
    "Batch (all notifications)": (
        b'[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]',
        [],
    ),
    "notification": (b'{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}', []),
    "notification without params": (b'{"jsonrpc": "2.0", "method": "foobar"}', []),
}


@pytest.mark.parametrize("name", list(SPEC_EXAMPLES))
def test_json_rpc_spec_examples(live, leaks, name):
    leaks.client(live.d)
    body, expected = SPEC_EXAMPLES[name]
    live.exchange(Case(frame(body), list(expected), [name]))


@pytest.mark.parametrize(
    "body",
    [
        b"NaN",
        b"[Infinity]",
        b'{"jsonrpc": "2.0", "id": 1, "method": "session/list", "params": {"cwd": NaN}}',
    ],
    ids=["NaN", "Infinity-in-a-batch", "NaN-as-a-param"],
)
def test_non_json_numbers_are_parse_errors(live, leaks, body):
    """NaN and Infinity are not JSON (RFC 8259): the answer is a parse error, like any other non-JSON."""
    leaks.client(live.d)
    live.exchange(Case(frame(body), [Err(PARSE, None)], ["NaN"]))


def test_a_giant_frame_is_skipped_in_bounded_memory(live, leaks, record_property):
    """64 MiB announced and sent against a 64 KiB limit: refused with -32700, skipped without being kept."""
    leaks.client(live.d)
    size = 64 * 1024 * 1024
    before = live.d.rss_kib()
    live.d.write(b"Content-Length: %d\r\n\r\n" % size)
    chunk = b"x" * (1024 * 1024)
    for _ in range(size // len(chunk)):
        live.d.write(chunk)
    live.exchange(Case(b"", [Err(PARSE, None)], ["giant"]))
    grown = live.d.rss_kib() - before
    record_property("rss_growth_kib", grown)
    assert grown < 32 * 1024, f"the daemon grew by {grown} KiB reading a frame it refuses"
    assert math.isfinite(grown)
