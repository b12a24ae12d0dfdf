"""ACP prompt content -> the one message caw sends to the backend.

Text goes as is; a resource link becomes a markdown link the agent can open; an
embedded text resource is quoted with its URI (the "embedded context" ACP clients send
for @-mentioned files), by caw.attachments.compose_prompt, as for the daemon. Images, audio and binary resources are not advertised and are
refused with invalid params (-32602), as the protocol asks.
"""

from __future__ import annotations

from collections.abc import Sequence

from acp import RequestError, schema

from ..attachments import EmbeddedResource, ResourceContents, ResourceLink, compose_prompt
from ..errors import InvalidAttachment

PromptBlock = (
    schema.TextContentBlock
    | schema.ImageContentBlock
    | schema.AudioContentBlock
    | schema.ResourceContentBlock
    | schema.EmbeddedResourceContentBlock
)


def prompt_text(blocks: Sequence[PromptBlock]) -> str:
    parts: list[str | ResourceLink | EmbeddedResource] = []
    for block in blocks:
        if isinstance(block, schema.TextContentBlock):
            parts.append(block.text)
        elif isinstance(block, schema.ResourceContentBlock):
            parts.append(ResourceLink(type="resource_link", uri=block.uri, name=block.name))
        elif isinstance(block, schema.EmbeddedResourceContentBlock) and isinstance(
            block.resource, schema.TextResourceContents
        ):
            res = block.resource
            contents = ResourceContents(uri=res.uri, text=res.text)
            parts.append(EmbeddedResource(type="resource", resource=contents))
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
    try:  # the one conversion the daemon and the library use too (caw.attachments)
        message = compose_prompt(parts, read_links=False)
    except InvalidAttachment as exc:
        raise RequestError.invalid_params({"details": str(exc)}) from None
    if not message.strip():
        raise RequestError.invalid_params({"details": "the prompt has no text"})
    return message
