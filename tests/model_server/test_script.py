"""Unit tests of the scripted responder (caw.testing.script)."""

from __future__ import annotations

from typing import Any

import pytest

from caw.testing import script
from caw.testing.script import (
    answer_for,
    clean_user_text,
    extract_facts,
    parse_directives,
    plan_reply,
)


def anthropic_body(*turns, tools=True):
    """turns: alternating user/assistant strings (or raw content lists)."""
    messages = []
    for i, content in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": content})
    body = {"model": "m", "max_tokens": 1000, "messages": messages, "stream": True}
    if tools:
        body["tools"] = [
            {
                "name": "Bash",
                "input_schema": {
                    "type": "object",
                    "properties": {"command": {"type": "string"}},
                    "required": ["command"],
                },
            }
        ]
    return body


def reply_to(body, api="anthropic"):
    messages = (
        script.normalize_anthropic(body) if api == "anthropic" else script.normalize_openai(body)
    )
    kind = script.classify(api, body, "")
    return plan_reply(api, body, messages, kind=kind)


# ---------------------------------------------------------------- facts and questions


def test_facts_are_extracted_with_trailing_sentences():
    assert extract_facts("My deploy target is staging-eu. Remember that.") == [
        ("deploy target", "staging-eu")
    ]
    assert extract_facts("My favorite number is 42. Acknowledge it.") == [("favorite number", "42")]
    assert extract_facts("My version is 3.14.") == [("version", "3.14")]
    assert extract_facts("What is my favorite number?") == []


def test_statement_of_fact_is_noted():
    assert (
        answer_for("My deploy target is staging-eu. Remember that.", [])
        == "Noted: deploy target is staging-eu."
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Where am I deploying?", "staging-eu"),
        ("What is my favorite number?", "42"),
        ("And what is my favorite number again?", "42"),
        ("What's the deploy target?", "staging-eu"),
        ("What colour is the sky?", "I don't know."),
    ],
)
def test_questions_answer_from_history(question, expected):
    history = [
        "My deploy target is staging-eu. Remember that.",
        "My favorite number is 42. Acknowledge it.",
    ]
    assert answer_for(question, history) == expected


def test_question_without_history_is_unknown():
    assert answer_for("Where am I deploying?", []) == "I don't know."


def test_later_fact_wins():
    history = ["My deploy target is staging-eu.", "My deploy target is prod-us."]
    assert answer_for("Where am I deploying?", history) == "prod-us"


def test_echo_repeat_and_count():
    assert answer_for("hello there", []) == "You said: hello there"
    assert answer_for("Repeat after me: the quick brown fox", []) == "the quick brown fox"
    assert answer_for("How many messages have I sent?", ["a", "b"]) == "3"


# ---------------------------------------------------------------- cleaning


def test_injected_blocks_are_ignored():
    assert clean_user_text("<system-reminder>\nstuff\n</system-reminder>\n") == ""
    assert clean_user_text("<environment_context>\n  <cwd>/tmp</cwd>\n</environment_context>") == ""
    assert (
        clean_user_text("# AGENTS.md instructions for /repo\n\n<INSTRUCTIONS>x</INSTRUCTIONS>")
        == ""
    )
    assert (
        clean_user_text("<system-reminder>x</system-reminder>Where am I deploying?")
        == "Where am I deploying?"
    )
    assert (
        clean_user_text('"Where am I deploying?"') == "Where am I deploying?"
    )  # opencode run quotes
    assert clean_user_text('say "hi" now') == 'say "hi" now'


def test_latest_user_text_skips_injected_blocks():
    body = anthropic_body(
        [
            {"type": "text", "text": "My deploy target is staging-eu."},
        ],
        "Noted.",
        [
            {"type": "text", "text": "<system-reminder>\nAttribution...\n</system-reminder>\n"},
            {"type": "text", "text": "Where am I deploying?"},
            {"type": "text", "text": "<system-reminder>todo list is empty</system-reminder>"},
        ],
    )
    assert reply_to(body).text == "staging-eu"


def test_openai_input_is_normalized():
    body: dict[str, Any] = {
        "model": "m",
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
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "My secret is nope."}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": "<environment_context><cwd>/x</cwd></environment_context>",
                    }
                ],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "My favorite number is 42."}],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Noted."}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What is my favorite number?"}],
            },
        ],
    }
    assert reply_to(body, "openai").text == "42"
    body["input"][-1]["content"][0]["text"] = "What is my secret?"
    assert reply_to(body, "openai").text == "I don't know."  # developer text is not user text


# ---------------------------------------------------------------- directives


def test_parse_directives():
    d, rest = parse_directives("[[slow:2.5]] [[think]] hello [[tool:bash:echo hi there]]")
    assert d.slow == 2.5 and d.think and d.tool_command == "echo hi there"
    assert rest == "hello"
    d, rest = parse_directives("[[fail:529]][[cut]][[hang]][[usage-limit]] x")
    assert (d.fail, d.cut, d.hang, d.usage_limit) == (529, True, True, True)
    assert rest == "x"


def test_directives_only_apply_to_latest_message():
    body = anthropic_body("[[fail:500]] [[hang]] first", "You said: first", "second")
    r = reply_to(body)
    assert r.fail_status is None and not r.hang
    assert r.text == "You said: second"


def test_directives_stripped_from_echo():
    r = reply_to(anthropic_body("[[slow:1]] [[think]] hello"))
    assert r.text == "You said: hello"
    assert r.slow == 1.0 and r.thinking
    r = reply_to(anthropic_body("[[fail:429]] hi"))
    assert r.fail_status == 429
    r = reply_to(anthropic_body("[[usage-limit]] hi"))
    assert r.fail_status == 429 and r.fail_kind == "usage_limit"


def test_tool_directive_then_tool_result():
    body = anthropic_body("[[tool:bash:echo hello]] run it")
    r = reply_to(body)
    assert r.tool_call is not None
    assert r.tool_call.name == "Bash" and r.tool_call.arguments == {"command": "echo hello"}
    body["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "echo hello"}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "hello\nworld"}],
        },
    ]
    r = reply_to(body)
    assert r.tool_call is None and r.text == "Tool said: hello"


def test_tool_call_arguments_follow_the_schema():
    tools = [
        {
            "type": "function",
            "name": "exec_command",
            "parameters": {
                "type": "object",
                "properties": {"cmd": {"type": "string"}, "login": {"type": "boolean"}},
                "required": ["cmd"],
            },
        },
    ]
    body: dict[str, Any] = {
        "tools": tools,
        "input": [{"type": "message", "role": "user", "content": "[[tool:bash:ls]]"}],
    }
    r = reply_to(body, "openai")
    assert r.tool_call.name == "exec_command" and r.tool_call.arguments == {"cmd": "ls"}
    tools = [
        {
            "type": "function",
            "name": "shell",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "array"}},
                "required": ["command"],
            },
        }
    ]
    r = reply_to({"tools": tools, "input": "[[tool:bash:ls]]"}, "openai")
    assert r.tool_call.arguments == {"command": ["bash", "-lc", "ls"]}
    tools = [
        {
            "name": "bash",
            "input_schema": {
                "type": "object",
                "properties": {"command": {"type": "string"}, "description": {"type": "string"}},
                "required": ["command", "description"],
            },
        }
    ]
    r = reply_to(anthropic_body("[[tool:bash:ls]]", tools=False) | {"tools": tools})
    assert r.tool_call.arguments["command"] == "ls" and r.tool_call.arguments["description"]


def test_codex_tool_output_wrapper_is_unwrapped():
    body: dict[str, Any] = {
        "tools": [
            {
                "type": "function",
                "name": "exec_command",
                "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
            }
        ],
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "[[tool:bash:echo hello]]"}],
            },
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "exec_command",
                "arguments": '{"cmd":"echo hello"}',
            },
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": "Chunk ID: 1\nWall time: 0.0 seconds\nProcess exited with code 0\nOutput:\nhello\n",
            },
        ],
    }
    assert reply_to(body, "openai").text == "Tool said: hello"
    body["input"][-1]["output"] = '{"output": "hello\\n", "metadata": {"exit_code": 0}}'
    assert reply_to(body, "openai").text == "Tool said: hello"


def test_side_requests_ignore_directives():
    body = anthropic_body(
        [
            {"type": "text", "text": "Generate a title for this conversation:\n"},
            {"type": "text", "text": '"[[hang]] My deploy target is x."'},
        ],
        tools=False,
    )
    assert script.classify("anthropic", body, "") == "side"
    r = reply_to(body)
    assert not r.hang and r.fail_status is None and r.text
    probe = anthropic_body("quota") | {"max_tokens": 1}
    assert script.classify("anthropic", probe, "") == "side"


def test_requests_without_tools_are_main_unless_they_are_helper_tasks():
    body = anthropic_body(
        "My deploy target is staging-eu.", "Noted.", "Where am I deploying?", tools=False
    )
    system = (
        "x-anthropic-billing-header: cc_version=1;\nYou are a Claude agent."
        + " More." * 60
        + " A summary, a title."
    )
    assert script.classify("anthropic", body, system) == "main"
    assert reply_to(body).text == "staging-eu"
    assert (
        script.classify("anthropic", body, "You are a title generator. Output a title.") == "side"
    )
    assert script.classify("openai", {"input": "Summarize the conversation so far"}, "") == "side"
