"""The codex adapter's pure parts: wire -> events, approvals, options -> params, locating the binary.

The notification shapes below are trimmed copies of what codex-cli 0.169.0's
app-server and `codex exec --json` printed against the scripted model server.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any

import pytest

from caw.errors import InvalidHandle
from caw.events import TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from caw.providers.base import ConversationOptions
from caw.providers.codex import CodexProvider
from caw.providers.codex.exec import ExecConversation
from caw.providers.codex.options import approval_answer, native_cli, thread_params, toml_string
from caw.providers.codex.translate import TurnTranslator, exec_item
from caw.providers.jsonrpc_lines import RpcError

T, TURN = "01a2139e-e111-74b1-bd1b-c7b72a68d453", "01a2139e-e12a-70d2-ba0d-bb7f0aa1f6c1"


def n(method: str, **params):
    return method, {"threadId": T, "turnId": TURN, **params}


def usage(total: tuple[int, int, int], last: tuple[int, int, int]):
    """(input, cached input, output) of the thread so far and of the last model call."""

    def breakdown(inp: int, cached: int, out: int):
        return {
            "totalTokens": inp + out,
            "inputTokens": inp,
            "cachedInputTokens": cached,
            "cacheWriteInputTokens": 0,
            "outputTokens": out,
            "reasoningOutputTokens": 0,
        }

    return n(
        "thread/tokenUsage/updated",
        tokenUsage={
            "total": breakdown(*total),
            "last": breakdown(*last),
            "modelContextWindow": 258400,
        },
    )


def fold(notifications):
    translator = TurnTranslator()
    return [
        event for method, params in notifications for event in translator.events(method, params)
    ], translator


def test_text_streams_as_deltas_and_the_completed_item_is_not_repeated():
    events, _ = fold([
        n("item/started", item={"type": "agentMessage", "id": "msg_1", "text": ""}),
        n("item/agentMessage/delta", itemId="msg_1", delta="You "),
        n("item/agentMessage/delta", itemId="msg_1", delta="said: hello"),
        n("item/completed", item={"type": "agentMessage", "id": "msg_1", "text": "You said: hello"}),
    ])  # fmt: skip
    assert events == [TextDelta(text="You "), TextDelta(text="said: hello")]


def test_an_unstreamed_message_arrives_whole():
    events, _ = fold(
        [n("item/completed", item={"type": "agentMessage", "id": "msg_2", "text": "whole"})]
    )
    assert events == [TextDelta(text="whole")]


def test_reasoning_streams_one_kind_per_item_and_separates_summary_parts():
    events, _ = fold([
        n("item/reasoning/summaryTextDelta", itemId="rs_1", delta="Thinking ", summaryIndex=0),
        n("item/reasoning/textDelta", itemId="rs_1", delta="raw duplicate", contentIndex=0),
        n("item/reasoning/summaryTextDelta", itemId="rs_1", delta="more", summaryIndex=1),
        n("item/completed", item={"type": "reasoning", "id": "rs_1", "summary": ["Thinking ", "more"], "content": []}),
        n("item/completed", item={"type": "reasoning", "id": "rs_2", "summary": ["quiet"], "content": []}),
    ])  # fmt: skip
    assert events == [
        ThinkingDelta(text="Thinking "),
        ThinkingDelta(text="\n\nmore"),
        ThinkingDelta(text="quiet"),
    ]


def test_command_execution_becomes_a_tool_call_and_result():
    item = {
        "type": "commandExecution",
        "id": "call_1",
        "command": "/bin/bash -lc 'echo hi'",
        "cwd": "/w",
        "status": "inProgress",
        "aggregatedOutput": None,
        "exitCode": None,
    }
    events, _ = fold([
        n("item/started", item=item),
        n("item/completed", item={**item, "status": "completed", "aggregatedOutput": "hi\n", "exitCode": 0}),
        n("item/completed", item={**item, "id": "call_2", "status": "declined"}),
        n("item/completed", item={**item, "id": "call_3", "status": "failed", "aggregatedOutput": "no", "exitCode": 2}),
    ])  # fmt: skip
    assert events == [
        ToolCall(
            id="call_1",
            name="commandExecution",
            input={"command": "/bin/bash -lc 'echo hi'", "cwd": "/w"},
        ),
        ToolResult(id="call_1", output="hi\n", is_error=False),
        ToolCall(
            id="call_2",
            name="commandExecution",
            input={"command": "/bin/bash -lc 'echo hi'", "cwd": "/w"},
        ),
        ToolResult(id="call_2", output="declined", is_error=True),
        ToolCall(
            id="call_3",
            name="commandExecution",
            input={"command": "/bin/bash -lc 'echo hi'", "cwd": "/w"},
        ),
        ToolResult(id="call_3", output="no", is_error=True),
    ]


def test_mcp_tool_calls_carry_their_arguments_and_text():
    item = {"type": "mcpToolCall", "id": "m1", "server": "docs", "tool": "search", "arguments": {"q": "x"}, "status": "completed",
            "result": {"content": [{"type": "text", "text": "found"}]}, "error": None}  # fmt: skip
    events, _ = fold([n("item/completed", item=item)])
    assert events == [
        ToolCall(id="m1", name="mcp__docs__search", input={"q": "x"}),
        ToolResult(id="m1", output="found"),
    ]


def test_usage_is_per_turn_even_when_the_thread_total_is_larger():
    # The thread had used 1000 input tokens before this turn; the turn made two model calls.
    events, _ = fold(
        [
            usage(total=(1100, 0, 60), last=(100, 0, 10)),
            usage(total=(1250, 40, 75), last=(150, 40, 15)),
        ]
    )
    assert [type(e) for e in events] == [UsageUpdate, UsageUpdate]
    assert (events[0].usage.input_tokens, events[0].usage.output_tokens) == (100, 10)
    final = events[-1].usage
    assert (final.input_tokens, final.cache_read_tokens, final.output_tokens) == (210, 40, 25)


def test_errors_that_will_not_be_retried_are_kept_for_the_failed_turn():
    _, translator = fold([
        n("error", error={"message": "retrying", "codexErrorInfo": "other"}, willRetry=True),
        n("error", error={"message": "You've hit your quota", "codexErrorInfo": "usageLimitExceeded"}, willRetry=False),
    ])  # fmt: skip
    assert translator.error == "You've hit your quota (usage limit)"
    _, translator = fold(
        [
            n(
                "error",
                error={
                    "message": "retries exhausted",
                    "codexErrorInfo": {"responseTooManyFailedAttempts": {"httpStatusCode": 429}},
                },
                willRetry=False,
            )
        ]
    )
    assert translator.error == "retries exhausted (responseTooManyFailedAttempts, HTTP 429)"
    _, translator = fold(
        [
            n(
                "error",
                error={
                    "message": "bad request",
                    "codexErrorInfo": "other",
                    "additionalDetails": "param x",
                },
                willRetry=False,
            )
        ]
    )
    assert translator.error == "bad request: param x"


def test_a_retried_stream_voids_what_the_broken_attempt_streamed():
    # What codex 0.169.0's app-server sent for a stream cut after two words (see tests/reliability).
    retry = n(
        "error",
        error={
            "message": "Reconnecting... 1/1",
            "codexErrorInfo": {"responseStreamDisconnected": {"httpStatusCode": None}},
        },
        willRetry=True,
    )
    events, translator = fold([
        n("item/reasoning/summaryTextDelta", itemId="rs_1", delta="hmm", summaryIndex=0),
        n("item/agentMessage/delta", itemId="msg_1", delta="alpha "),
        retry,
        n("item/agentMessage/delta", itemId="msg_2", delta="alpha beta"),
        n("item/completed", item={"type": "agentMessage", "id": "msg_2", "text": "alpha beta"}),
    ])  # fmt: skip
    assert events == [
        ThinkingDelta(text="hmm"),
        TextDelta(text="alpha "),
        TextDelta(text="", replace=True),
        TextDelta(text="alpha beta"),
    ]
    assert translator.error is None

    # codex re-sends the whole request, so a message completed before the cut is void too ...
    events, _ = fold([
        n("item/completed", item={"type": "agentMessage", "id": "msg_1", "text": "Let me look."}),
        n("item/agentMessage/delta", itemId="msg_2", delta="It "),
        retry,
    ])  # fmt: skip
    assert events[-1] == TextDelta(text="", replace=True)
    # ... but what came before a tool call stays, and a retry with nothing new since voids nothing.
    command = {
        "type": "commandExecution",
        "id": "call_1",
        "command": "ls",
        "cwd": "/w",
        "status": "completed",
        "aggregatedOutput": "",
        "exitCode": 0,
    }
    events, _ = fold(
        [
            n("item/agentMessage/delta", itemId="msg_1", delta="Looking."),
            n("item/completed", item=command),
            retry,
        ]
    )
    assert not any(getattr(e, "replace", False) for e in events)


def test_exec_items_become_the_same_events():
    lines: list[tuple[str, dict[str, Any]]] = [
        ("item.completed", {"id": "item_1", "type": "reasoning", "text": "hmm"}),
        ("item.started", {"id": "item_2", "type": "command_execution", "command": "echo hi", "aggregated_output": "", "exit_code": None, "status": "in_progress"}),
        ("item.completed", {"id": "item_2", "type": "command_execution", "command": "echo hi", "aggregated_output": "hi\n", "exit_code": 0, "status": "completed"}),
        ("item.completed", {"id": "item_0", "type": "error", "message": "Model metadata not found"}),
        ("item.completed", {"id": "item_3", "type": "agent_message", "text": "Tool said: hi"}),
    ]  # fmt: skip
    translator = TurnTranslator()
    methods = {"item.started": "item/started", "item.completed": "item/completed"}
    events = [
        e
        for kind, item in lines
        for e in translator.events(methods[kind], {"item": exec_item(item)})
    ]
    assert events == [
        ThinkingDelta(text="hmm"),
        ToolCall(id="item_2", name="commandExecution", input={"command": "echo hi"}),
        ToolResult(id="item_2", output="hi\n"),
        TextDelta(text="Tool said: hi"),
    ]


def test_exec_usage_is_per_turn_and_unknown_for_the_first_resumed_turn():
    options = ConversationOptions(session_id="s", cwd="/w")
    fresh = ExecConversation("codex", {}, options, None)
    first = fresh._turn_usage({"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 5})
    second = fresh._turn_usage(
        {"input_tokens": 250, "cached_input_tokens": 30, "output_tokens": 12}
    )
    assert first is not None and second is not None
    assert (first.input_tokens, first.output_tokens) == (100, 5)
    assert (second.input_tokens, second.cache_read_tokens, second.output_tokens) == (120, 30, 7)
    resumed = ExecConversation("codex", {}, options, "01a2139e-e111-74b1-bd1b-c7b72a68d453")
    assert resumed._turn_usage({"input_tokens": 900, "output_tokens": 50}) is None
    after = resumed._turn_usage({"input_tokens": 1000, "output_tokens": 60})
    assert after is not None and after.input_tokens == 100


@pytest.mark.parametrize(
    ("method", "bypass", "deny"),
    [
        ("item/commandExecution/requestApproval", {"decision": "accept"}, {"decision": "decline"}),
        ("item/fileChange/requestApproval", {"decision": "accept"}, {"decision": "decline"}),
        (
            "execCommandApproval",
            {"decision": "approved"},
            {"decision": {"denied": {"rejection": "caw's permission mode is deny"}}},
        ),
        (
            "applyPatchApproval",
            {"decision": "approved"},
            {"decision": {"denied": {"rejection": "caw's permission mode is deny"}}},
        ),
        (
            "item/permissions/requestApproval",
            {"permissions": {"network": {"enabled": True}}, "scope": "turn"},
            {"permissions": {}, "scope": "turn"},
        ),
        ("mcpServer/elicitation/request", {"action": "decline"}, {"action": "decline"}),
    ],
)
def test_approvals_follow_the_permission_mode(method, bypass, deny):
    params = {"threadId": T, "permissions": {"network": {"enabled": True}}}
    assert approval_answer(method, params, "bypass") == bypass
    assert approval_answer(method, params, "deny") == deny


def test_unknown_server_requests_are_refused():
    with pytest.raises(RpcError) as caught:
        approval_answer("item/tool/call", {}, "bypass")
    assert caught.value.code == -32601


def test_thread_params_carry_permissions_model_prompt_and_reasoning():
    bypass = thread_params(ConversationOptions(session_id="s", cwd="/w"))
    assert bypass == {"cwd": "/w", "approvalPolicy": "never", "sandbox": "danger-full-access"}
    full = thread_params(
        ConversationOptions(
            session_id="s",
            cwd="/w",
            model="m1",
            system_prompt="Be brief.",
            reasoning="high",
            permission_mode="deny",
        )
    )
    assert full == {
        "cwd": "/w", "approvalPolicy": "untrusted", "sandbox": "read-only", "model": "m1",
        "developerInstructions": "Be brief.", "config": {"model_reasoning_effort": "high"},
    }  # fmt: skip


def test_exec_argv_quotes_config_values_as_toml():
    options = ConversationOptions(
        session_id="s",
        cwd="/w",
        model="m1",
        system_prompt='say "42"\nthen stop',
        reasoning="low",
        permission_mode="deny",
    )
    argv = ExecConversation("codex", {}, options, "01a2139e-e111-74b1-bd1b-c7b72a68d453")._argv()
    assert argv[:3] == ["codex", "exec", "resume"]
    # the prompt is read from stdin ("-"): never on argv (issue 21, finding 7)
    assert argv[-3:] == ["--", "01a2139e-e111-74b1-bd1b-c7b72a68d453", "-"]
    assert "--model=m1" in argv  # a value joined to its flag (issue 21, finding 5)
    assert 'developer_instructions="say \\"42\\"\\nthen stop"' in argv
    assert 'model_reasoning_effort="low"' in argv and 'sandbox_mode="read-only"' in argv
    assert "--dangerously-bypass-approvals-and-sandbox" not in argv
    assert toml_string("42") == '"42"' and toml_string("é\x7f") == '"é\\u007f"'


@pytest.mark.parametrize(
    "key", ["not-a-uuid", "main", "../../x", "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5"]
)
def test_resume_keys_must_be_uuids(key):
    with pytest.raises(InvalidHandle):
        CodexProvider.check_resume_key(key)
    assert CodexProvider.check_resume_key("01a2139e-e111-74b1-bd1b-c7b72a68d453")


@pytest.mark.skipif(sys.platform != "linux", reason="the npm layout below is the linux one")
def test_native_binary_is_found_behind_the_npm_wrapper(tmp_path, monkeypatch):
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    package = tmp_path / "node_modules" / "@openai" / "codex"
    (package / "bin").mkdir(parents=True)
    wrapper = package / "bin" / "codex.js"
    wrapper.write_text("#!/usr/bin/env node\n")
    dot_bin = tmp_path / "node_modules" / ".bin"
    dot_bin.mkdir()
    (dot_bin / "codex").symlink_to(os.path.relpath(wrapper, dot_bin))
    # no platform package: the wrapper is used as it is
    assert native_cli(str(dot_bin / "codex")) == (str(dot_bin / "codex"), {})
    binary = (
        tmp_path
        / "node_modules"
        / "@openai"
        / "codex-linux-x64"
        / "vendor"
        / "x86_64-unknown-linux-musl"
        / "bin"
        / "codex"
    )
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    found, env = native_cli(str(dot_bin / "codex"))
    assert found == str(binary)
    assert env == {"CODEX_MANAGED_PACKAGE_ROOT": str(package), "CODEX_MANAGED_BY_NPM": "1"}
    # a native binary (or anything else) is left alone
    assert native_cli(str(binary)) == (str(binary), {})
