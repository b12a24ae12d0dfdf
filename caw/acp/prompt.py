"""ACP prompt content -> the one message caw sends to the backend.

Text goes as is; a resource link becomes a markdown link the agent can open; an
embedded text resource is quoted with its URI (the "embedded context" ACP clients send
for @-mentioned files). Images, audio and binary resources are not advertised and are
refused with invalid params (-32602), as the protocol asks.
"""

from __future__ import annotations

from collections.abc import Sequence

from acp import RequestError, schema

PromptBlock = (
    schema.TextContentBlock
    | schema.ImageContentBlock
    | schema.AudioContentBlock
    | schema.ResourceContentBlock
    | schema.EmbeddedResourceContentBlock
)


def prompt_text(blocks: Sequence[PromptBlock]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, schema.TextContentBlock):
            parts.append(block.text)
        elif isinstance(block, schema.ResourceContentBlock):
            parts.append(f"[@{block.name}]({block.uri})")
        elif isinstance(block, schema.EmbeddedResourceContentBlock) and isinstance(
            block.resource, schema.TextResourceContents
        ):
            res = block.resource
            parts.append(f'<context ref="{res.uri}">\n{res.text}\n</context>')
        else:
            what = getattr(block, "type", type(block).__name__)
            if isinstance(block, schema.EmbeddedResourceContentBlock):
                what = "resource with binary (blob) contents"
            raise RequestError.invalid_params(
                {
                    "details": f"caw acp does not accept {what} content in a prompt "
                    "(promptCapabilities: text, resource links and embedded text resources)"
                }
            )
    message = "\n\n".join(p for p in parts if p)
    if not message.strip():
        raise RequestError.invalid_params({"details": "the prompt has no text"})
    return message
