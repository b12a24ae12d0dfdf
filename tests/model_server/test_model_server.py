"""The scripted model server over HTTP: stream shapes, errors, knobs, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from caw.testing import ScriptedModelServer


def sse_events(response: httpx.Response) -> list[tuple[str | None, dict]]:
    """Parse an SSE body into (event name, data) pairs."""
    events = []
    name = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line[5:].strip())))
            name = None
    return events


def anthropic(text: str, stream: bool = True, tools: bool = True, **extra) -> dict:
    body = {
        "model": "claude-test",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are a test."}],
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
    }
    if tools:
        body["tools"] = [
            {
                "name": "Bash",
                "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
            }
        ]
    body.update(extra)
    return body


def responses(text: str, stream: bool = True) -> dict:
    return {
        "model": "gpt-test",
        "instructions": "Be brief.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        ],
        "tools": [
            {
                "type": "function",
                "name": "exec_command",
                "parameters": {
                    "type": "object",
                    "properties": {"cmd": {"type": "string"}},
                    "required": ["cmd"],
                },
            }
        ],
        "stream": stream,
    }


@pytest.fixture
def client(scripted):
    with httpx.Client(base_url=scripted.base_url, timeout=10) as c:
        yield c


def post_stream(client, path, body):
    with client.stream("POST", path, json=body) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return sse_events(r)


# ---------------------------------------------------------------- Anthropic Messages


def test_anthropic_stream_shape(client, scripted):
    events = post_stream(client, "/v1/messages", anthropic("My deploy target is staging-eu."))
    names = [n for n, _ in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 1
    assert all(n == d["type"] for n, d in events)
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "Noted: deploy target is staging-eu."
    start = events[0][1]["message"]
    assert start["role"] == "assistant" and start["model"] == "claude-test"
    assert start["usage"]["input_tokens"] > 0
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["output_tokens"] > 0
    rec = scripted.requests[-1]
    assert (rec.api, rec.kind, rec.model, rec.system, rec.status) == (
        "anthropic",
        "main",
        "claude-test",
        "You are a test.",
        200,
    )
    assert rec.user_texts() == ["My deploy target is staging-eu."]
    assert rec.reply_text == text


def test_anthropic_non_streaming_and_prefixless_path(client):
    r = client.post("/messages", json=anthropic("Repeat after me: plain json", stream=False))
    assert r.status_code == 200
    msg = r.json()
    assert msg["type"] == "message" and msg["stop_reason"] == "end_turn"
    assert msg["content"] == [{"type": "text", "text": "plain json"}]
    assert msg["usage"]["output_tokens"] == 2


def test_anthropic_thinking_and_tool_use(client):
    events = post_stream(client, "/v1/messages", anthropic("[[think]] [[tool:bash:echo hi]] go"))
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "tool_use"]
    assert starts[1]["name"] == "Bash"
    kinds = {d["delta"]["type"] for n, d in events if n == "content_block_delta"}
    assert kinds == {"thinking_delta", "signature_delta", "input_json_delta"}
    args = "".join(
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(args) == {"command": "echo hi"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_count_tokens_models_and_unknown_routes(client, scripted):
    r = client.post("/v1/messages/count_tokens", json=anthropic("one two three four"))
    assert r.status_code == 200 and r.json()["input_tokens"] >= 4
    r = client.get("/v1/models")
    assert r.status_code == 200 and r.json()["data"][0]["id"] == "caw-scripted-1"
    r = client.get("/api/oauth/profile")
    assert r.status_code == 404 and r.json()["type"] == "error"
    r = client.post("/v1/whatever", json={"x": 1})
    assert r.status_code == 404
    assert [(q.kind, q.path) for q in scripted.requests] == [
        ("count_tokens", "/v1/messages/count_tokens"),
        ("models", "/v1/models"),
        ("other", "/api/oauth/profile"),
        ("other", "/v1/whatever"),
    ]


@pytest.mark.parametrize(
    ("status", "etype"),
    [
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
        (400, "invalid_request_error"),
    ],
)
def test_anthropic_fail_directive(client, status, etype):
    r = client.post("/v1/messages", json=anthropic(f"[[fail:{status}]] hi"))
    assert r.status_code == status
    assert r.json() == {
        "type": "error",
        "error": {"type": etype, "message": r.json()["error"]["message"]},
    }


def test_usage_limit_errors(client):
    r = client.post("/v1/messages", json=anthropic("[[usage-limit]] hi"))
    assert r.status_code == 429
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert "usage limit reached" in r.json()["error"]["message"]
    r = client.post("/v1/responses", json=responses("[[usage-limit]] hi"))
    assert r.status_code == 429
    assert r.json()["error"]["type"] == "usage_limit_reached"


TITLE_SYSTEM = "You are a title generator. You output ONLY a thread title."


def test_side_request_gets_short_answer_and_ignores_directives(client, scripted):
    body = anthropic("[[hang]] My deploy target is staging-eu.", tools=False, system=TITLE_SYSTEM)
    r = client.post("/v1/messages", json=body | {"stream": False})
    assert r.status_code == 200
    assert r.json()["content"][0]["text"] == "My deploy target is staging-eu"
    assert scripted.requests[-1].kind == "side"
    assert scripted.main_requests() == []


# ---------------------------------------------------------------- OpenAI Responses


def test_responses_stream_shape(client, scripted):
    events = post_stream(client, "/v1/responses", responses("Repeat after me: hello world"))
    names = [n for n, _ in events]
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    assert all(n == d["type"] for n, d in events)
    text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert text == "hello world"
    done = events[-1][1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == "hello world"
    usage = done["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    rec = scripted.requests[-1]
    assert (rec.api, rec.kind, rec.system) == ("openai", "main", "Be brief.")


def test_responses_function_call_and_reasoning(client):
    events = post_stream(client, "/v1/responses", responses("[[think]] [[tool:bash:echo hi]]"))
    items = [d["item"] for n, d in events if n == "response.output_item.done"]
    assert [i["type"] for i in items] == ["reasoning", "function_call"]
    call = items[1]
    assert call["name"] == "exec_command" and json.loads(call["arguments"]) == {"cmd": "echo hi"}
    deltas = "".join(d["delta"] for n, d in events if n == "response.function_call_arguments.delta")
    assert deltas == call["arguments"]
    assert any(n == "response.reasoning_summary_text.delta" for n, _ in events)


def test_responses_non_streaming_and_errors(client):
    r = client.post("/v1/responses", json=responses("hi", stream=False))
    assert r.status_code == 200 and r.json()["output"][0]["content"][0]["text"] == "You said: hi"
    r = client.post("/v1/responses", json=responses("[[fail:500]] hi"))
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    r = client.post("/v1/responses", json=responses("[[fail:429]] hi"))
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"


# ---------------------------------------------------------------- knobs


def test_fail_next_counts_and_applies_to_main_requests_only(client, scripted):
    scripted.fail_next(503, count=2)
    assert (
        client.post(
            "/v1/messages", json=anthropic("side", tools=False, system=TITLE_SYSTEM)
        ).status_code
        == 200
    )
    assert client.post("/v1/messages", json=anthropic("a")).status_code == 503
    assert client.post("/v1/responses", json=responses("b")).status_code == 503
    assert client.post("/v1/messages", json=anthropic("c", stream=False)).status_code == 200


def test_cut_next_and_cut_directive_drop_the_stream(client, scripted):
    scripted.cut_next()
    with pytest.raises(httpx.HTTPError):
        post_stream(
            client, "/v1/messages", anthropic("Repeat after me: one two three four five six")
        )
    with pytest.raises(httpx.HTTPError):
        post_stream(
            client, "/v1/responses", responses("[[cut]] Repeat after me: one two three four five")
        )
    with pytest.raises(httpx.HTTPError):  # a one-delta answer is cut before its end too
        post_stream(client, "/v1/messages", anthropic("[[cut]] Repeat after me: x"))
    # the next request is fine again
    assert post_stream(client, "/v1/messages", anthropic("ok"))[-1][0] == "message_stop"


def test_latency_and_slow_directive(client, scripted):
    scripted.latency = 0.3
    t = time.monotonic()
    post_stream(client, "/v1/messages", anthropic("hi"))
    assert time.monotonic() - t >= 0.3
    scripted.latency = 0
    times = []
    with client.stream(
        "POST", "/v1/messages", json=anthropic("[[slow:1]] Repeat after me: abcdefghij")
    ) as r:
        for line in r.iter_lines():
            if "text_delta" in line:
                times.append(time.monotonic())
    assert len(times) == len("abcdefghij")
    assert 0.6 <= times[-1] - times[0] <= 5.0


def test_delta_delay_knob(client, scripted):
    scripted.delta_delay = 0.05
    t = time.monotonic()
    events = post_stream(client, "/v1/responses", responses("Repeat after me: a b c d e f"))
    deltas = [e for e in events if e[0] == "response.output_text.delta"]
    assert len(deltas) == 6
    assert time.monotonic() - t >= 0.25


def test_twenty_parallel_streams(client, scripted):
    scripted.delta_delay = 0.1  # ~1 s per stream: one after the other would take 18 s or more

    def one(i: int) -> str:
        path, body = (
            ("/v1/messages", anthropic(f"Repeat after me: stream {i} a b c d e f g h"))
            if i % 2
            else ("/v1/responses", responses(f"Repeat after me: stream {i} a b c d e f g h"))
        )
        with httpx.Client(base_url=scripted.base_url, timeout=20) as c:
            events = post_stream(c, path, body)
        if path == "/v1/messages":
            return "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
        return "".join(d["delta"] for n, d in events if n == "response.output_text.delta")

    t = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        texts = list(pool.map(one, range(20)))
    elapsed = time.monotonic() - t
    assert texts == [f"stream {i} a b c d e f g h" for i in range(20)]
    assert elapsed < 9  # they ran side by side, not one after the other
    assert len(scripted.main_requests()) == 20


def test_hang_is_released_by_stop():
    server = ScriptedModelServer().start()
    server.hang_next()
    errors = []

    def call(body):
        try:
            httpx.post(server.base_url + "/v1/messages", json=body, timeout=30)
        except httpx.HTTPError as exc:
            errors.append(exc)

    def main_requests_reach(count: int) -> Callable[[object], bool]:
        return lambda _: len(server.main_requests()) >= count

    threads = []
    for n, body in enumerate([anthropic("knob"), anthropic("[[hang]] directive")], start=1):
        th = threading.Thread(target=call, args=(body,))
        th.start()
        threads.append(th)
        server.wait_for_request(main_requests_reach(n), timeout=10)
    threads[-1].join(timeout=0.3)
    assert all(th.is_alive() for th in threads)  # both are hanging
    t = time.monotonic()
    server.stop()
    for th in threads:
        th.join(5)
    assert time.monotonic() - t < 3
    assert not any(th.is_alive() for th in threads)
    assert len(errors) == 2


def test_hung_request_ends_when_the_client_leaves(scripted):
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(scripted.base_url + "/v1/messages", json=anthropic("[[hang]] x"), timeout=0.3)
    # the server is still healthy and serves the next request
    r = httpx.post(scripted.base_url + "/v1/messages", json=anthropic("y", stream=False), timeout=5)
    assert r.status_code == 200


def test_reset_clears_knobs_and_log(scripted, client):
    scripted.latency = 5
    scripted.fail_next(500)
    client.get("/v1/models")
    scripted.reset()
    assert scripted.requests == [] and scripted.latency == 0
    assert client.post("/v1/messages", json=anthropic("x")).status_code == 200


def test_custom_responder_hook(scripted, client):
    from caw.testing import Reply

    scripted.set_responder(
        lambda rec, reply: Reply(text="overridden") if "magic" in rec.user_texts()[-1] else None
    )
    events = post_stream(client, "/v1/messages", anthropic("magic please"))
    assert (
        "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta") == "overridden"
    )


def test_a_hold_keeps_the_last_delta_until_it_returns(scripted, client):
    from caw.testing import Reply

    release, order, texts = threading.Event(), [], []

    def held() -> None:
        release.wait(30)
        order.append("released")

    def hold(rec, reply: Reply) -> Reply:
        reply.hold = held
        return reply

    scripted.set_responder(hold)
    with client.stream("POST", "/v1/messages", json=anthropic("Repeat after me: a b c")) as r:
        for line in r.iter_lines():
            if "text_delta" in line:
                texts.append(json.loads(line.removeprefix("data: "))["delta"]["text"])
                order.append("delta")
                if len(texts) == 2:
                    release.set()
    assert "".join(texts).split() == ["a", "b", "c"]
    assert order == ["delta", "delta", "released", "delta"]


def test_command_line_entry():
    proc = subprocess.Popen(
        [sys.executable, "-m", "caw.testing.model_server", "--port", "0", "--latency", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = httpx.post(
            url + "/v1/messages",
            json=anthropic("Repeat after me: from afar", stream=False),
            timeout=10,
        )
        assert r.json()["content"][0]["text"] == "from afar"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert proc.stderr.read() == ""  # e.g. no runpy "found in sys.modules" warning
