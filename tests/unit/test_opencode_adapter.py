"""The opencode adapter's pure parts: event folding, ids, keys, permissions, options.

The event shapes are trimmed copies of what opencode 1.18.33's ``GET /event``
and ``opencode run --format json`` sent against the scripted model server.
"""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from caw.errors import BackendFailed, InvalidHandle, ModelError, UsageLimitReached
from caw.events import TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from caw.providers.base import ConversationOptions
from caw.providers.opencode import OpenCodeProvider
from caw.providers.opencode import serve as serve_module
from caw.providers.opencode.options import (
    DENY_MESSAGE,
    closest_variant,
    new_id,
    permission_rules,
)
from caw.providers.opencode.run import RunConversation
from caw.providers.opencode.serve import ServeConversation
from caw.providers.opencode.translate import TurnState, error_of, usage_of

SES, USER, ASSISTANT, OTHER = (
    "ses_dec605295ffe6iRN6xzAoUu6tG",
    "msg_2139faec9001iLd77O56O9Lxfg",
    "msg_2139fb532001r7tWYRsc2QWCIo",
    "msg_2139ff070001guVpD5rrZKiDpP",
)


class StubServe:
    """Stands in for ServeProcess: records the HTTP calls the conversation makes."""

    def __init__(self):
        self.listeners = {}
        self.calls = []
        self.alive = True

    def attach(self, session, conversation):
        self.listeners.setdefault(session, set()).add(conversation)

    async def request(self, method, path, what, **kwargs):
        self.calls.append((method, path, kwargs.get("json")))
        return httpx.Response(200, json=True)


def conversation(mode="bypass"):
    options = ConversationOptions(session_id="s", cwd="/tmp", permission_mode=mode)
    return ServeConversation(None, StubServe(), SES, options, None, None)  # type: ignore[arg-type]


def ev(kind, **props):
    return {"id": "evt_1", "type": kind, "properties": {"sessionID": SES, **props}}


def assistant(message_id=ASSISTANT, parent=USER, completed=None, **extra):
    info = {
        "id": message_id,
        "parentID": parent,
        "role": "assistant",
        "sessionID": SES,
        "time": {"created": 1, **({"completed": completed} if completed else {})},
        **extra,
    }
    return ev("message.updated", info=info)


def part(message_id=ASSISTANT, **fields):
    return ev("message.part.updated", part={"messageID": message_id, "sessionID": SES, **fields})


def delta(text, part_id="prt_text", message_id=ASSISTANT):
    return ev("message.part.delta", messageID=message_id, partID=part_id, field="text", delta=text)


async def fold(conv, events, turn=None):
    turn = turn or TurnState(user_message=USER)
    out = []
    for event in events:
        async for item in conv._on_event(turn, event):
            out.append(item)
    return out, turn


async def test_deltas_of_our_assistant_message_stream_and_the_final_part_is_not_repeated():
    out, _ = await fold(conversation(), [
        ev("message.updated", info={"id": USER, "role": "user", "sessionID": SES}),
        assistant(),
        part(id="prt_start", type="step-start"),
        part(id="prt_text", type="text", text="", time={"start": 1}),
        delta("Noted: "),
        delta("color is blue."),
        part(id="prt_text", type="text", text="Noted: color is blue.", time={"start": 1, "end": 2}),
        delta("late duplicate"),
        assistant(completed=3),
    ])  # fmt: skip
    assert out == [TextDelta(text="Noted: "), TextDelta(text="color is blue.")]


async def test_messages_answering_another_prompt_are_ignored():
    out, turn = await fold(conversation(), [
        assistant(message_id=OTHER, parent="msg_2139aaaaa001xxxxxxxxxxxxxx"),
        part(message_id=OTHER, id="prt_o", type="text", text="", time={"start": 1}),
        delta("not ours", part_id="prt_o", message_id=OTHER),
        part(message_id=OTHER, id="prt_o", type="text", text="not ours", time={"start": 1, "end": 2}),
    ])  # fmt: skip
    assert out == [] and turn.assistant == set()


async def test_text_the_stream_did_not_deliver_is_filled_in_from_the_part():
    out, _ = await fold(conversation(), [
        assistant(),
        part(id="prt_text", type="text", text="", time={"start": 1}),
        delta("Tool "),
        part(id="prt_text", type="text", text="Tool said: hi", time={"start": 1, "end": 2}),
    ])  # fmt: skip
    assert out == [TextDelta(text="Tool "), TextDelta(text="said: hi")]


async def test_reasoning_parts_become_thinking():
    out, _ = await fold(conversation(), [
        assistant(),
        part(id="prt_r", type="reasoning", text="", time={"start": 1}),
        delta("Thinking ", part_id="prt_r"),
        delta("about it", part_id="prt_r"),
        part(id="prt_r", type="reasoning", text="Thinking about it", time={"start": 1, "end": 2}),
        part(id="prt_t", type="text", text="Done.", time={"start": 2, "end": 3}),
    ])  # fmt: skip
    assert out == [
        ThinkingDelta(text="Thinking "),
        ThinkingDelta(text="about it"),
        TextDelta(text="Done."),
    ]


async def test_tool_parts_become_one_call_and_one_result():
    call = "toolu_84c33f01d50d490eab3aec47"
    running = {"status": "running", "input": {"command": "echo hi"}, "time": {"start": 1}}
    out, _ = await fold(conversation(), [
        assistant(),
        part(id="prt_tool", type="tool", tool="bash", callID=call, state={"status": "pending", "input": {}, "raw": ""}),
        part(id="prt_tool", type="tool", tool="bash", callID=call, state=running),
        part(id="prt_tool", type="tool", tool="bash", callID=call, state={**running, "metadata": {"output": "hi\n"}}),
        part(id="prt_tool", type="tool", tool="bash", callID=call, state={**running, "status": "completed", "output": "hi\n"}),
        part(id="prt_tool", type="tool", tool="bash", callID=call, state={**running, "status": "completed", "output": "hi\n"}),
    ])  # fmt: skip
    assert out == [
        ToolCall(id=call, name="bash", input={"command": "echo hi"}),
        ToolResult(id=call, output="hi\n"),
    ]


async def test_a_failed_tool_is_an_error_result_even_without_a_running_update():
    out, _ = await fold(conversation(), [
        assistant(),
        part(id="prt_tool", type="tool", tool="bash", callID="c1", state={"status": "error", "input": {"command": "x"}, "error": "The user rejected permission"}),
    ])  # fmt: skip
    assert out == [
        ToolCall(id="c1", name="bash", input={"command": "x"}),
        ToolResult(id="c1", output="The user rejected permission", is_error=True),
    ]


async def test_step_finishes_add_up_to_the_turn_usage_once_each():
    tokens = {
        "total": 1542,
        "input": 1538,
        "output": 4,
        "reasoning": 2,
        "cache": {"read": 10, "write": 1},
    }
    step = part(id="prt_f1", type="step-finish", reason="tool-calls", tokens=tokens, cost=0.5)
    out, turn = await fold(conversation(), [
        assistant(),
        step,
        step,
        assistant(message_id=OTHER),  # the second step of the same prompt
        part(message_id=OTHER, id="prt_f2", type="step-finish", reason="stop", tokens=tokens, cost=0.25),
    ])  # fmt: skip
    assert [type(e) for e in out] == [UsageUpdate, UsageUpdate]
    final = out[-1].usage
    assert (
        final.input_tokens,
        final.output_tokens,
        final.cache_read_tokens,
        final.cache_write_tokens,
    ) == (3076, 12, 20, 2)
    assert final.cost_usd == pytest.approx(0.75)
    assert turn.assistant == {ASSISTANT, OTHER}


async def test_completion_is_tracked_per_message():
    _, turn = await fold(conversation(), [assistant(), assistant(completed=5)])
    assert turn.completed == {ASSISTANT}


@pytest.mark.parametrize(
    ("mode", "reply"),
    [("bypass", {"reply": "once"}), ("deny", {"reply": "reject", "message": DENY_MESSAGE})],
)
async def test_permission_requests_are_answered_by_policy(mode, reply):
    conv = conversation(mode)
    asked = ev(
        "permission.asked",
        id="per_213a338fb001Gc39usSaYDpk1g",
        permission="bash",
        patterns=["echo hi"],
        metadata={"command": "echo hi"},
    )
    out, _ = await fold(conv, [asked])
    assert out == []
    assert conv.serve.calls == [("POST", "/permission/per_213a338fb001Gc39usSaYDpk1g/reply", reply)]


async def test_a_usage_limit_retry_aborts_at_once_and_fails_the_turn():
    conv = conversation()
    retry = ev(
        "session.status",
        status={
            "type": "retry",
            "attempt": 1,
            "message": "usage limit reached: you have reached your usage limit",
            "next": 1,
        },
    )
    _, turn = await fold(conv, [retry])
    assert isinstance(turn.failure, UsageLimitReached)
    assert conv.serve.calls == [("POST", f"/session/{SES}/abort", None)]


async def test_an_ordinary_retry_is_left_to_opencode():
    conv = conversation()
    _, turn = await fold(
        conv,
        [
            ev(
                "session.status",
                status={
                    "type": "retry",
                    "attempt": 1,
                    "message": "scripted api_error (500)",
                    "next": 1,
                },
            )
        ],
    )
    assert turn.failure is None and conv.serve.calls == []


async def test_text_after_a_retry_replaces_what_the_broken_attempt_streamed():
    out, _ = await fold(conversation(), [
        assistant(),
        part(id="prt_broken", type="text", text="", time={"start": 1}),
        delta("al", part_id="prt_broken"),
        ev("session.status", status={"type": "retry", "attempt": 1, "message": "Connection reset by server", "next": 1}),
        ev("session.status", status={"type": "busy"}),
        part(id="prt_retry", type="text", text="", time={"start": 2}),
        delta("alpha ", part_id="prt_retry"),
        delta("beta", part_id="prt_retry"),
    ])  # fmt: skip
    assert out == [
        TextDelta(text="al"),
        TextDelta(text="alpha ", replace=True),
        TextDelta(text="beta"),
    ]


async def test_an_interrupt_before_opencode_took_the_prompt_is_repeated_when_it_does():
    conv = conversation()
    conv._interrupted = True
    await fold(
        conv,
        [
            ev("message.updated", info={"id": USER, "role": "user", "sessionID": SES}),
            assistant(),
            assistant(),
        ],
    )
    assert conv.serve.calls == [("POST", f"/session/{SES}/abort", None)] * 2


class AnsweringServe(StubServe):
    """A serve whose turn POST answers ``Noted: color is blue.``; ``stream(conv, user)`` is
    what its event stream delivers (called as the POST is made, or after it has answered)."""

    def __init__(self, stream, before_answer=True):
        super().__init__()
        self.stream, self.before_answer = stream, before_answer

    async def request(self, method, path, what, **kwargs):
        if not path.endswith("/message"):
            return await super().request(method, path, what, **kwargs)
        user = kwargs["json"]["messageID"]
        (conv,) = self.listeners[SES]
        if self.before_answer:
            self.stream(conv, user)
        else:
            asyncio.get_running_loop().call_later(0.05, self.stream, conv, user)
        info = {"id": ASSISTANT, "parentID": user, "role": "assistant", "sessionID": SES,
                "time": {"created": 1, "completed": 2}}  # fmt: skip
        text = {"id": "prt_text", "messageID": ASSISTANT, "sessionID": SES, "type": "text",
                "text": "Noted: color is blue.", "time": {"start": 1, "end": 2}}  # fmt: skip
        return httpx.Response(200, json={"info": info, "parts": [text]})


def streamed_start(conv, user):
    """The stream up to the answer's first delta: its message is made, not yet completed."""
    for event in (
        assistant(parent=user),
        part(id="prt_text", type="text", text="", time={"start": 1}),
        delta("Noted: "),
    ):
        conv._feed(event)


async def turn_events(conv, monkeypatch):
    # A stream that never catches up would hold the turn this long: no test may reach it.
    monkeypatch.setattr(serve_module, "CATCH_UP", 3600.0)

    async def collect():
        return [event async for event in conv.send("My color is blue.", lambda _: None)]

    return await asyncio.wait_for(collect(), 60)


async def test_the_turn_ends_with_its_answer_once_the_stream_has_reached_its_message(monkeypatch):
    options = ConversationOptions(session_id="s", cwd="/tmp", permission_mode="bypass")
    conv = ServeConversation(None, AnsweringServe(streamed_start), SES, options, None, None)  # type: ignore[arg-type]
    # The stream never delivers the message's end: the answer fills in the rest of its text.
    assert await turn_events(conv, monkeypatch) == [
        TextDelta(text="Noted: "),
        TextDelta(text="color is blue."),
    ]


async def test_the_turn_waits_for_a_stream_that_has_not_reached_its_answer_yet(monkeypatch):
    options = ConversationOptions(session_id="s", cwd="/tmp", permission_mode="bypass")
    serve = AnsweringServe(streamed_start, before_answer=False)
    conv = ServeConversation(None, serve, SES, options, None, None)  # type: ignore[arg-type]
    # What the stream delivers after the POST answered still comes first, in its order.
    assert await turn_events(conv, monkeypatch) == [
        TextDelta(text="Noted: "),
        TextDelta(text="color is blue."),
    ]


def test_ids_have_opencodes_shape_and_ascend():
    ids = [new_id("msg") for _ in range(50)]
    assert all(re.fullmatch(r"msg_[0-9a-f]{12}[0-9A-Za-z]{14}", i) for i in ids)
    assert sorted(ids) == ids and len(set(ids)) == 50


@pytest.mark.parametrize(
    "key", ["ses_dec605295ffe6iRN6xzAoUu6tG", "ses_0123456789abcdefABCDEFghij"]
)
def test_session_ids_are_valid_keys(key):
    assert OpenCodeProvider.check_resume_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "ses_",
        "ses_a-b",
        "ses_../x",
        "../../etc/passwd",
        "-rf",
        "not-a-valid-key",
        "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a",
        "ses_abc\n",
    ],
)
def test_malformed_keys_are_invalid_handles(key):
    with pytest.raises(InvalidHandle):
        OpenCodeProvider.check_resume_key(key)


def test_permission_rules():
    assert permission_rules("bypass") == [{"permission": "*", "pattern": "*", "action": "allow"}]
    deny = permission_rules("deny")
    assert deny[0] == {"permission": "*", "pattern": "*", "action": "ask"}
    # the last matching rule wins: bash asks (and is refused), read stays allowed
    last = {rule["permission"]: rule["action"] for rule in deny}
    assert last["read"] == "allow" and "bash" not in last


@pytest.mark.parametrize(
    ("requested", "variants", "expected"),
    [
        ("high", ["high", "max"], "high"),
        ("low", ["high", "max"], "high"),
        ("xhigh", ["high", "max"], "high"),  # a tie goes to the lower level
        ("medium", ["low", "high"], "low"),
        ("max", ["low", "medium", "high"], "high"),
        ("turbo", ["high"], "turbo"),  # not a level caw knows: passed on as named
        ("high", ["fast"], None),
    ],
)
def test_reasoning_maps_to_the_nearest_variant(requested, variants, expected):
    assert closest_variant(requested, variants) == expected


def test_usage_counts_reasoning_as_output():
    usage = usage_of(
        {"input": 10, "output": 3, "reasoning": 2, "cache": {"read": 4, "write": 1}}, 0.1
    )
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cost_usd,
    ) == (10, 5, 4, 1, 0.1)
    assert usage_of(None).total_tokens == 0 and usage_of({}, None).cost_usd is None


def test_errors_map_to_caw_errors():
    api = error_of(
        {"name": "APIError", "data": {"message": "scripted api_error (500)", "statusCode": 500}}
    )
    assert isinstance(api, ModelError) and "500" in str(api)
    limit = error_of(
        {
            "name": "APIError",
            "data": {
                "message": "usage limit reached: you have reached your usage limit",
                "statusCode": 429,
            },
        }
    )
    assert isinstance(limit, UsageLimitReached)
    other = error_of({"name": "UnknownError", "data": {"message": "boom"}})
    assert type(other) is BackendFailed and "boom" in str(other)


def test_run_fallback_flags_and_config():
    options = ConversationOptions(
        session_id="s", cwd="/tmp", model="anthropic/caw-scripted-1", reasoning="high", system_prompt="Be brief.",
        permission_mode="deny", env={"OPENCODE_CONFIG_CONTENT": json.dumps({"instructions": ["mine.md"], "share": "disabled"})},
    )  # fmt: skip
    conv = RunConversation("/bin/opencode", options, "ses_abc")
    # values joined to their flags: none can become a flag of its own (issue 21, finding 5)
    assert conv._argv() == ["/bin/opencode", "run", "--format=json", "--thinking", "--session=ses_abc",
                            "--model=anthropic/caw-scripted-1", "--variant=high"]  # fmt: skip
    config = json.loads(conv._env("/tmp/x/system-prompt.md")["OPENCODE_CONFIG_CONTENT"])
    assert config["instructions"] == ["mine.md", "/tmp/x/system-prompt.md"]
    assert (
        config["share"] == "disabled"
        and config["permission"]["*"] == "ask"
        and config["permission"]["read"] == "allow"
    )
    bypass = RunConversation("/bin/opencode", ConversationOptions(session_id="s", cwd="/tmp"), None)
    assert bypass._argv()[-1] == "--auto" and not any("--session" in a for a in bypass._argv())
    assert (
        bypass._env(None) == bypass._options.process_env()
    )  # nothing to add: the user's config stays as it is


def test_mode_is_checked():
    assert OpenCodeProvider._mode({}) == "auto"
    assert OpenCodeProvider._mode({"CAW_OPENCODE_MODE": "RUN"}) == "run"
    with pytest.raises(ValueError, match="CAW_OPENCODE_MODE must be auto, serve or run"):
        OpenCodeProvider._mode({"CAW_OPENCODE_MODE": "fast"})
