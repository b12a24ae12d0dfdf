"""The OpenAI Responses API (``POST /v1/responses``): codex's and opencode's wire."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ..script import Reply, dumps
from .api import Event, ModelAPI, count_tokens, new_id, split_text


def system_text(body: dict[str, Any]) -> str:
    parts = []
    if isinstance(body.get("instructions"), str):
        parts.append(body["instructions"])
    items = body.get("input")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("role") in ("system", "developer"):
                content = item.get("content")
                if isinstance(content, str):
                    parts.append(content)
                elif isinstance(content, list):
                    parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


def error_body(status: int, message: str | None, usage_limit: bool = False) -> dict[str, Any]:
    if usage_limit:
        return {
            "error": {
                "type": "usage_limit_reached",
                "code": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "param": None,
                "plan_type": "plus",
                "resets_in_seconds": 3600,
            }
        }
    etype, code = {
        400: ("invalid_request_error", "invalid_request"),
        401: ("invalid_request_error", "invalid_api_key"),
        403: ("invalid_request_error", "forbidden"),
        404: ("invalid_request_error", "not_found"),
        429: ("rate_limit_exceeded", "rate_limit_exceeded"),
        500: ("server_error", "server_error"),
        503: ("server_error", "server_is_overloaded"),
        529: ("server_error", "server_is_overloaded"),
    }.get(status, ("server_error", "server_error"))
    return {
        "error": {
            "type": etype,
            "code": code,
            "message": message or f"scripted {etype} ({status})",
            "param": None,
        }
    }


def events(reply: Reply, model: str, input_tokens: int, body: dict[str, Any]) -> Iterator[Event]:
    resp_id = new_id("resp")
    fine = reply.slow is not None
    seq = itertools.count(0)
    created = int(time.time())
    output: list[dict[str, Any]] = []
    item: dict[str, Any]
    part: dict[str, Any]
    done: dict[str, Any]

    def response(status: str, with_usage: bool = False) -> dict[str, Any]:
        r: dict[str, Any] = {
            "id": resp_id,
            "object": "response",
            "created_at": created,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "max_output_tokens": body.get("max_output_tokens"),
            "model": model,
            "output": list(output),
            "parallel_tool_calls": bool(body.get("parallel_tool_calls", False)),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": bool(body.get("store", False)),
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": None,
            "user": None,
            "metadata": {},
        }
        if with_usage:
            out_tokens = count_tokens(output)
            reasoning_tokens = (
                count_tokens([o for o in output if o.get("type") == "reasoning"])
                if any(o.get("type") == "reasoning" for o in output)
                else 0
            )
            r["usage"] = {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": out_tokens,
                "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
                "total_tokens": input_tokens + out_tokens,
            }
        return r

    def ev(name: str, data: dict[str, Any], is_delta: bool = False) -> Event:
        data = {"type": name, "sequence_number": next(seq), **data}
        return (name, data, is_delta)

    yield ev("response.created", {"response": response("in_progress")})
    yield ev("response.in_progress", {"response": response("in_progress")})
    index = 0
    if reply.thinking:
        rs_id = new_id("rs")
        item = {"id": rs_id, "type": "reasoning", "summary": []}
        yield ev("response.output_item.added", {"output_index": index, "item": item})
        yield ev(
            "response.reasoning_summary_part.added",
            {
                "item_id": rs_id,
                "output_index": index,
                "summary_index": 0,
                "part": {"type": "summary_text", "text": ""},
            },
        )
        for piece in split_text(reply.thinking, fine):
            yield ev(
                "response.reasoning_summary_text.delta",
                {"item_id": rs_id, "output_index": index, "summary_index": 0, "delta": piece},
                True,
            )
        yield ev(
            "response.reasoning_summary_text.done",
            {"item_id": rs_id, "output_index": index, "summary_index": 0, "text": reply.thinking},
        )
        part = {"type": "summary_text", "text": reply.thinking}
        yield ev(
            "response.reasoning_summary_part.done",
            {"item_id": rs_id, "output_index": index, "summary_index": 0, "part": part},
        )
        done = {"id": rs_id, "type": "reasoning", "summary": [part]}
        output.append(done)
        yield ev("response.output_item.done", {"output_index": index, "item": done})
        index += 1
    if reply.text or reply.tool_call is None:
        msg_id = new_id("msg")
        item = {
            "id": msg_id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        yield ev("response.output_item.added", {"output_index": index, "item": item})
        yield ev(
            "response.content_part.added",
            {
                "item_id": msg_id,
                "output_index": index,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        )
        for piece in split_text(reply.text, fine):
            yield ev(
                "response.output_text.delta",
                {
                    "item_id": msg_id,
                    "output_index": index,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                },
                True,
            )
        yield ev(
            "response.output_text.done",
            {
                "item_id": msg_id,
                "output_index": index,
                "content_index": 0,
                "text": reply.text,
                "logprobs": [],
            },
        )
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        yield ev(
            "response.content_part.done",
            {"item_id": msg_id, "output_index": index, "content_index": 0, "part": part},
        )
        done = {
            "id": msg_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
        output.append(done)
        yield ev("response.output_item.done", {"output_index": index, "item": done})
        index += 1
    if reply.tool_call is not None:
        call = reply.tool_call
        call_id = "call_" + uuid.uuid4().hex[:24]
        if call.kind == "local_shell":
            item_id = new_id("lsh")
            done = {
                "id": item_id,
                "type": "local_shell_call",
                "call_id": call_id,
                "status": "completed",
                "action": call.arguments,
            }
            yield ev(
                "response.output_item.added",
                {"output_index": index, "item": {**done, "status": "in_progress"}},
            )
            output.append(done)
            yield ev("response.output_item.done", {"output_index": index, "item": done}, True)
        else:
            item_id = new_id("fc")
            args = dumps(call.arguments)
            item = {
                "id": item_id,
                "type": "function_call",
                "status": "in_progress",
                "call_id": call_id,
                "name": call.name,
                "arguments": "",
            }
            if call.namespace is not None:  # a function of a namespace tool (codex's MCP tools)
                item["namespace"] = call.namespace
            yield ev("response.output_item.added", {"output_index": index, "item": item})
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                yield ev(
                    "response.function_call_arguments.delta",
                    {"item_id": item_id, "output_index": index, "delta": piece},
                    True,
                )
            yield ev(
                "response.function_call_arguments.done",
                {"item_id": item_id, "output_index": index, "arguments": args},
            )
            done = {**item, "status": "completed", "arguments": args}
            output.append(done)
            yield ev("response.output_item.done", {"output_index": index, "item": done})
    final = response("completed", with_usage=True)
    yield ev("response.completed", {"response": final})
    yield ("__final__", {"response": final}, False)


API = ModelAPI(
    name="openai",
    system_text=system_text,
    error_body=error_body,
    events=events,
    final_key="response",
)
