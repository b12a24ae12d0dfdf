"""Attachments: files, ranges and selections sent with a message, as the one prompt a CLI gets.

An attachment is an Agent Client Protocol content block: a ``resource_link`` (caw reads the
file it names) or an embedded ``resource`` (the text travels with it: a selection, a range). A
range is named by the URI's fragment, ``#L12-L20`` (1-based, inclusive). :func:`compose_prompt`
is the one place the blocks become the CLI's message, for the daemon, the library and
``caw acp``. The turn records each attachment's URI and name (:class:`AttachmentRef`), never
its content.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field

from .errors import InvalidAttachment
from .models import AttachmentRef, CawModel

#: The largest file or embedded text caw puts into a prompt.
MAX_ATTACHMENT_BYTES = 1024 * 1024

_RANGE = re.compile(r"^L(\d+)(?:-L?(\d+))?$")


class ResourceLink(CawModel):
    """ACP ``resource_link``: a file caw reads (``file:///abs/path``, optionally ``#Lx-Ly``)."""

    type: Literal["resource_link"]
    uri: str
    name: str | None = None
    mime_type: str | None = None


class ResourceContents(CawModel):
    """ACP ``TextResourceContents`` (a ``blob`` is accepted here only to be refused by name)."""

    uri: str
    text: str | None = None
    blob: str | None = None
    mime_type: str | None = None


class EmbeddedResource(CawModel):
    """ACP embedded ``resource``: text sent along (a selection or a range)."""

    type: Literal["resource"]
    resource: ResourceContents


Attachment = Annotated[ResourceLink | EmbeddedResource, Field(discriminator="type")]


def attachment_ref(attachment: ResourceLink | EmbeddedResource) -> AttachmentRef:
    """What the turn records: URI and a display name (the link's name, else the file name)."""
    uri = attachment.uri if isinstance(attachment, ResourceLink) else attachment.resource.uri
    name = attachment.name if isinstance(attachment, ResourceLink) else None
    if not name:
        parts = urlsplit(uri)
        name = os.path.basename(unquote(parts.path)) or uri
        if parts.fragment:
            name = f"{name}#{parts.fragment}"
    return AttachmentRef(uri=uri, name=name)


def line_range(uri: str) -> tuple[int, int | None] | None:
    """The 1-based inclusive line range a URI's ``#Lx-Ly`` fragment names (None: no fragment);
    ValueError for a fragment that is not a valid range."""
    fragment = urlsplit(uri).fragment
    if not fragment:
        return None
    match = _RANGE.match(fragment)
    if match is None:
        raise ValueError(f"the fragment #{fragment} is not a line range like #L12-L20")
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else start
    if start < 1 or end < start:
        raise ValueError(f"the line range #{fragment} is empty or starts before line 1")
    return start, end


def _file_path(uri: str) -> Path:
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise ValueError("only file:// URIs can be read (send other content embedded)")
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"the file is on another host ({parts.netloc})")
    path = Path(unquote(parts.path))
    if not path.is_absolute():
        raise ValueError("the file URI's path is not absolute")
    return path


def _check_text(data: bytes) -> str:
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValueError(f"over {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB")
    if b"\0" in data[:8192]:
        raise ValueError("binary content (not text)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("binary content (not UTF-8 text)") from None


def _read_link(link: ResourceLink) -> str:
    path = _file_path(link.uri)
    span = line_range(link.uri)
    try:
        if not path.is_file():
            raise ValueError("not a file" if path.exists() else "no such file")
        if path.stat().st_size > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"over {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror or exc})") from None
    text = _check_text(data)
    if span is None:
        return text
    lines = text.splitlines(keepends=True)
    start, end = span
    if start > len(lines):
        raise ValueError(f"the range starts at line {start}, the file has {len(lines)}")
    return "".join(lines[start - 1 : end])


def _embedded_text(embedded: EmbeddedResource) -> str:
    res = embedded.resource
    line_range(res.uri)  # a malformed range is refused even though the text came along
    if res.text is None:
        raise ValueError("binary (blob) contents are not accepted, only text")
    return _check_text(res.text.encode("utf-8"))


def _context(uri: str, text: str) -> str:
    return f'<context ref="{uri}">\n{text.rstrip(chr(10))}\n</context>'


def compose_prompt(
    blocks: Sequence[str | ResourceLink | EmbeddedResource], *, read_links: bool = True
) -> str:
    """The one message the CLI gets for ``blocks`` in order: text as it is, each attachment as
    a ``<context ref="uri">`` block holding its text. ``read_links=False`` (``caw acp``: the
    client's files are the agent's own) keeps a link as a markdown link instead of reading it.
    Raises :class:`InvalidAttachment` naming the first bad attachment."""
    parts: list[str] = []
    number = 0
    for block in blocks:
        if isinstance(block, str):
            parts.append(block)
            continue
        try:
            if isinstance(block, ResourceLink):
                if read_links:
                    parts.append(_context(block.uri, _read_link(block)))
                else:
                    parts.append(f"[@{attachment_ref(block).name}]({block.uri})")
            else:
                parts.append(_context(block.resource.uri, _embedded_text(block)))
        except ValueError as exc:
            raise InvalidAttachment(number, attachment_ref(block).name, str(exc)) from None
        number += 1
    return "\n\n".join(p for p in parts if p)


def message_with_attachments(
    message: str, attachments: Sequence[ResourceLink | EmbeddedResource]
) -> str:
    """The user's text followed by its attachments' contents (files read, ranges cut)."""
    return compose_prompt([message, *attachments])
