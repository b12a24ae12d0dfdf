"""What caw relies on in the app-server protocol, checked against the CLI's own JSON Schema.

`codex app-server generate-json-schema --out DIR` writes the protocol of the
installed CLI. Every message caw sent during a real conversation is validated
against it, and the notification fields caw reads must exist in it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from caw import AsyncAgent
from caw.providers import close_shared_providers
from caw.providers.codex import native_cli
from caw.providers.jsonrpc_lines import JsonRpcPeer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory) -> Path:
    from caw.testing.environments import cli_path

    cli = cli_path("codex")
    if cli is None:
        pytest.skip("the codex CLI is not installed (npm ci in tests/backends)")
    out = tmp_path_factory.mktemp("codex-schema")
    subprocess.run(
        [native_cli(cli)[0], "app-server", "generate-json-schema", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


def load(schema_dir: Path, name: str) -> dict[str, Any]:
    for path in (schema_dir / f"{name}.json", schema_dir / "v2" / f"{name}.json"):
        if path.exists():
            return json.loads(path.read_text())
    raise AssertionError(f"the schema has no {name}")


def errors(value: Any, schema: Any, root: dict[str, Any], where: str = "$") -> list[str]:
    """A small JSON Schema check: the keywords codex's schema uses for the messages caw sends."""
    if schema is True or schema == {}:
        return []
    if "$ref" in schema:
        return errors(value, root["definitions"][schema["$ref"].rsplit("/", 1)[1]], root, where)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [errors(value, option, root, where) for option in schema[key]]
            if all(options):
                return [f"{where}: matches no {key} option ({min(options, key=len)})"]
    found: list[str] = []
    for sub in schema.get("allOf", []):
        found += errors(value, sub, root, where)
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    types = schema.get("type")
    if types is not None:
        names: dict[str, type | tuple[type, ...]] = {
            "object": dict,
            "array": list,
            "string": str,
            "boolean": bool,
            "integer": int,
            "number": (int, float),
            "null": type(None),
        }
        if not any(
            isinstance(value, names[t]) for t in ([types] if isinstance(types, str) else types)
        ):
            return [f"{where}: {value!r} is not {types}"]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        found += [
            f"{where}: missing {key}" for key in schema.get("required", []) if key not in value
        ]
        for key, item in value.items():
            if key in props:
                found += errors(item, props[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{where}: unexpected {key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += errors(item, schema["items"], root, f"{where}[{i}]")
    return found


async def test_every_message_caw_sends_matches_the_schema(
    schema_dir, cli_env, scripted, tmp_path, monkeypatch
):
    sent: list[dict[str, Any]] = []
    write = JsonRpcPeer._write

    async def recording(self, message):
        sent.append(message)
        await write(self, message)

    monkeypatch.setattr(JsonRpcPeer, "_write", recording)
    env = cli_env("codex")
    try:
        agent = AsyncAgent(
            provider="codex",
            env=env,
            model="caw-scripted-1",
            system_prompt="Be brief.",
            reasoning="low",
        )
        first, second = await agent.start_session(), await agent.start_session()
        await first.send("My pet is a heron. Remember that.")
        slow = asyncio.create_task(first.send("[[slow:5]] Tell me a story."))
        await asyncio.to_thread(
            scripted.wait_for_request,
            lambda r: r.kind == "main" and "[[slow:5]]" in r.user_texts()[-1],
            30,
        )
        await first.cancel()
        await asyncio.gather(slow, return_exceptions=True)
        await first.end()  # the server stays for `second`: the thread is unsubscribed
        await second.end()
        resumed = await agent.resume_session(first.resume_handle)
        await resumed.send("What is my pet?")
        await resumed.end()
        denied = await AsyncAgent(
            provider="codex", env=env, cwd=tmp_path, permission_mode="deny"
        ).start_session()
        await denied.send(f"[[tool:bash:touch {tmp_path / 'x'}]] Run it.")
        await denied.end()
    finally:
        await close_shared_providers()

    requests = load(schema_dir, "ClientRequest")
    notifications = load(schema_dir, "ClientNotification")
    server_requests = {
        entry["properties"]["method"]["enum"][0]: entry["properties"]["params"]["$ref"].rsplit(
            "/", 1
        )[1]
        for entry in load(schema_dir, "ServerRequest")["oneOf"]
    }
    # the check itself catches what the CLI would refuse
    assert errors(
        {"id": 1, "method": "thread/start", "params": {"approvalPolicy": "sometimes"}},
        requests,
        requests,
    )
    assert errors(
        {"id": 1, "method": "turn/start", "params": {"threadId": "t"}}, requests, requests
    )
    methods = []
    answered = []
    for message in sent:
        if "method" in message and "id" in message:
            methods.append(message["method"])
            assert not errors(message, requests, requests), (
                message,
                errors(message, requests, requests),
            )
        elif "method" in message:
            methods.append(message["method"])
            assert not errors(message, notifications, notifications), message
        else:  # our answer to a server request; its method is known from the request we answered
            answered.append(message)
    expected = {
        "initialize",
        "initialized",
        "thread/start",
        "turn/start",
        "turn/interrupt",
        "thread/unsubscribe",
        "thread/resume",
    }
    assert expected <= set(methods), set(methods)
    assert answered, "the deny-mode turn asked for an approval"
    # caw's answers: the approval request is the only kind the scripted turns cause
    answer_schema = load(
        schema_dir,
        server_requests["item/commandExecution/requestApproval"].replace("Params", "Response"),
    )
    for message in answered:
        assert not errors(message["result"], answer_schema, answer_schema), message


def test_the_answers_caw_can_give_match_the_schema(schema_dir):
    from caw.providers.codex import approval_answer

    params = {"permissions": {"network": {"enabled": True}}}
    server_requests = {
        entry["properties"]["method"]["enum"][0]: entry["properties"]["params"]["$ref"].rsplit(
            "/", 1
        )[1]
        for entry in load(schema_dir, "ServerRequest")["oneOf"]
    }
    handled = [
        "item/commandExecution/requestApproval", "item/fileChange/requestApproval", "item/permissions/requestApproval",
        "execCommandApproval", "applyPatchApproval", "item/tool/requestUserInput", "mcpServer/elicitation/request",
    ]  # fmt: skip
    for method in handled:
        response = load(schema_dir, server_requests[method].replace("Params", "Response"))
        for mode in ("bypass", "deny"):
            answer = approval_answer(method, params, mode)
            assert not errors(answer, response, response), (method, mode, answer)


# (notification method, its params definition, the fields caw reads)
READ = [
    (
        "item/agentMessage/delta",
        "AgentMessageDeltaNotification",
        ["threadId", "turnId", "itemId", "delta"],
    ),
    (
        "item/reasoning/summaryTextDelta",
        "ReasoningSummaryTextDeltaNotification",
        ["threadId", "turnId", "itemId", "delta", "summaryIndex"],
    ),
    (
        "item/reasoning/textDelta",
        "ReasoningTextDeltaNotification",
        ["threadId", "turnId", "itemId", "delta"],
    ),
    ("item/started", "ItemStartedNotification", ["threadId", "turnId", "item"]),
    ("item/completed", "ItemCompletedNotification", ["threadId", "turnId", "item"]),
    (
        "thread/tokenUsage/updated",
        "ThreadTokenUsageUpdatedNotification",
        ["threadId", "turnId", "tokenUsage"],
    ),
    ("turn/completed", "TurnCompletedNotification", ["threadId", "turn"]),
    ("error", "ErrorNotification", ["threadId", "turnId", "error", "willRetry"]),
]


def test_the_notification_fields_caw_reads_exist(schema_dir):
    schema = load(schema_dir, "ServerNotification")
    defs = schema["definitions"]
    by_method = {
        e["properties"]["method"]["enum"][0]: e["properties"]["params"]["$ref"].rsplit("/", 1)[1]
        for e in schema["oneOf"]
    }
    for method, definition, fields in READ:
        assert by_method.get(method) == definition, method
        assert set(fields) <= set(defs[definition]["properties"]), (method, fields)
    assert {"id", "status", "error"} <= set(defs["Turn"]["properties"])
    assert {"completed", "interrupted", "failed"} <= set(defs["TurnStatus"]["enum"])
    assert {"message", "codexErrorInfo", "additionalDetails"} <= set(
        defs["TurnError"]["properties"]
    )
    assert "usageLimitExceeded" in json.dumps(defs["CodexErrorInfo"])
    assert {"total", "last"} <= set(defs["ThreadTokenUsage"]["properties"])
    assert {"inputTokens", "cachedInputTokens", "cacheWriteInputTokens", "outputTokens"} <= set(
        defs["TokenUsageBreakdown"]["properties"]
    )
    items = {
        e["properties"]["type"]["enum"][0]: set(e["properties"])
        for e in defs["ThreadItem"]["oneOf"]
    }
    assert {"id", "text"} <= items["agentMessage"]
    assert {"id", "summary", "content"} <= items["reasoning"]
    assert {"id", "command", "cwd", "status", "aggregatedOutput", "exitCode"} <= items[
        "commandExecution"
    ]
    assert {"id", "changes", "status"} <= items["fileChange"]
    assert {"id", "server", "tool", "arguments", "result", "error", "status"} <= items[
        "mcpToolCall"
    ]
    assert {"id", "tool", "arguments", "contentItems", "success"} <= items["dynamicToolCall"]
    assert {"id", "query"} <= items["webSearch"]
    # thread/start and thread/resume answer with the thread (its id is the resume key)
    for name in ("ThreadStartResponse", "ThreadResumeResponse"):
        response = load(schema_dir, name)
        assert (
            "thread" in response["required"]
            and "id" in response["definitions"]["Thread"]["required"]
        )
