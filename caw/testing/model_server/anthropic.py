"""The Anthropic Messages API (``POST /v1/messages``): claude's wire."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from ..script import Reply, dumps
from .api import Event, ModelAPI, count_tokens, new_id, split_text


def system_text(body: dict[str, Any]) -> str:
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
    return ""


def error_body(status: int, message: str | None, usage_limit: bool = False) -> dict[str, Any]:
    if usage_limit:
        return {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "usage limit reached: you have reached your usage limit for this period",
            },
        }
    etype = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        500: "api_error",
        529: "overloaded_error",
    }.get(status, "api_error")
    return {
        "type": "error",
        "error": {"type": etype, "message": message or f"scripted {etype} ({status})"},
    }


def events(reply: Reply, model: str, input_tokens: int, body: dict[str, Any]) -> Iterator[Event]:
    """The answer as Messages stream events; ``body`` is unused (the answer needs none of it)."""
    msg_id = new_id("msg")
    fine = reply.slow is not None
    output_tokens = 0
    content: list[dict[str, Any]] = []
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
        "service_tier": "standard",
    }
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": dict(usage),
            },
        },
        False,
    )
    index = 0
    if reply.thinking:
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
            False,
        )
        for piece in split_text(reply.thinking, fine):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "thinking_delta", "thinking": piece},
                },
                True,
            )
        signature = "c2NyaXB0ZWQ=" + uuid.uuid4().hex
        yield (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "signature_delta", "signature": signature},
            },
            False,
        )
        yield ("content_block_stop", {"type": "content_block_stop", "index": index}, False)
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": signature})
        output_tokens += count_tokens(reply.thinking)
        index += 1
    if reply.text or reply.tool_call is None:
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
            False,
        )
        yield ("ping", {"type": "ping"}, False)
        for piece in split_text(reply.text, fine):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                },
                True,
            )
        yield ("content_block_stop", {"type": "content_block_stop", "index": index}, False)
        content.append({"type": "text", "text": reply.text})
        output_tokens += count_tokens(reply.text)
        index += 1
    stop_reason = "end_turn"
    if reply.tool_call is not None:
        tool_id = "toolu_" + uuid.uuid4().hex[:24]
        call = reply.tool_call
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": call.name,
                    "input": {},
                },
            },
            False,
        )
        args = dumps(call.arguments)
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                },
                True,
            )
        yield ("content_block_stop", {"type": "content_block_stop", "index": index}, False)
        content.append(
            {"type": "tool_use", "id": tool_id, "name": call.name, "input": call.arguments}
        )
        output_tokens += count_tokens(call.arguments)
        stop_reason = "tool_use"
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {
                "output_tokens": output_tokens,
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
        False,
    )
    yield ("message_stop", {"type": "message_stop"}, False)
    usage["output_tokens"] = output_tokens
    yield (
        "__final__",
        {
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": usage,
            }
        },
        False,
    )


API = ModelAPI(
    name="anthropic",
    system_text=system_text,
    error_body=error_body,
    events=events,
    final_key="message",
)
