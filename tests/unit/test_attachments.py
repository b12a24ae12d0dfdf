"""Attachments as the CLI's prompt (caw.attachments) and as the turn records them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from caw.attachments import (
    MAX_ATTACHMENT_BYTES,
    Attachment,
    EmbeddedResource,
    ResourceContents,
    ResourceLink,
    attachment_ref,
    compose_prompt,
    line_range,
    message_with_attachments,
)
from caw.errors import InvalidAttachment
from caw.models import Trajectory, Turn

READ = TypeAdapter(Attachment)


def link(path: Path, fragment: str = "", name: str | None = None) -> ResourceLink:
    return ResourceLink(type="resource_link", uri=path.as_uri() + fragment, name=name)


def embedded(uri: str, text: str | None = None, blob: str | None = None) -> EmbeddedResource:
    return EmbeddedResource(
        type="resource", resource=ResourceContents(uri=uri, text=text, blob=blob)
    )


def test_files_ranges_and_selections_become_context_blocks(tmp_path: Path) -> None:
    whole = tmp_path / "notes.md"
    whole.write_text("all of it\n")
    lines = tmp_path / "a.py"
    lines.write_text("one\ntwo\nthree\nfour\n")
    prompt = message_with_attachments(
        "Explain", [link(whole), link(lines, "#L2-L3"), embedded("file:///x/b.py#L5-L6", "sel")]
    )
    assert prompt == (
        "Explain\n\n"
        f'<context ref="{whole.as_uri()}">\nall of it\n</context>\n\n'
        f'<context ref="{lines.as_uri()}#L2-L3">\ntwo\nthree\n</context>\n\n'
        '<context ref="file:///x/b.py#L5-L6">\nsel\n</context>'
    )
    assert "four" not in prompt and "one" not in prompt


def test_the_wire_shapes_parse_and_the_turn_records_uri_and_name_only(tmp_path: Path) -> None:
    a = READ.validate_python(
        {"type": "resource_link", "uri": "file:///w/x.py", "mimeType": "text/x-python"}
    )
    b = READ.validate_python(
        {"type": "resource", "resource": {"uri": "file:///w/y.py#L3", "text": "t"}}
    )
    assert isinstance(a, ResourceLink) and a.mime_type == "text/x-python"
    assert isinstance(b, EmbeddedResource)
    assert attachment_ref(a).to_wire() == {"uri": "file:///w/x.py", "name": "x.py"}
    assert attachment_ref(b).name == "y.py#L3"
    named = ResourceLink(type="resource_link", uri="file:///w/x.py", name="mine")
    assert attachment_ref(named).name == "mine"
    turn = Turn(input="hi", attachments=[attachment_ref(a)])
    assert (
        Turn.model_validate_json(turn.model_dump_json(by_alias=True)).attachments
        == turn.attachments
    )


@pytest.mark.parametrize(
    ("fragment", "span"),
    [("", None), ("#L4", (4, 4)), ("#L2-L9", (2, 9)), ("#L2-9", (2, 9))],
)
def test_line_ranges(fragment: str, span: tuple[int, int] | None) -> None:
    assert line_range("file:///a.py" + fragment) == span


@pytest.mark.parametrize("fragment", ["#L0", "#L5-L2", "#top", "#L1-Lx"])
def test_bad_line_ranges_are_refused(fragment: str) -> None:
    with pytest.raises(ValueError, match="line range"):
        line_range("file:///a.py" + fragment)


def test_bad_attachments_are_refused_by_name_and_place(tmp_path: Path) -> None:
    good = tmp_path / "ok.txt"
    good.write_text("fine\n")
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * (MAX_ATTACHMENT_BYTES + 1))
    binary = tmp_path / "img.png"
    binary.write_bytes(b"\x89PNG\0\0\0")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9")
    short = tmp_path / "short.txt"
    short.write_text("1\n2\n")
    cases: list[tuple[ResourceLink | EmbeddedResource, str, str]] = [
        (link(tmp_path, name="folder"), "folder", "not a file"),
        (link(tmp_path / "gone.txt"), "gone.txt", "no such file"),
        (link(big), "big.log", "over 1 MiB"),
        (link(binary), "img.png", "binary"),
        (link(latin), "latin.txt", "binary"),
        (link(short, "#L5-L6"), "short.txt#L5-L6", "starts at line 5"),
        (link(good, "#Lx"), "ok.txt#Lx", "not a line range"),
        (ResourceLink(type="resource_link", uri="https://x.test/a"), "a", "file://"),
        (embedded("file:///p.bin", blob="AAEC"), "p.bin", "blob"),
        (embedded("file:///p.txt", text="a\0b"), "p.txt", "binary"),
    ]
    for bad, name, reason in cases:
        with pytest.raises(InvalidAttachment) as caught:
            message_with_attachments("hi", [link(good), bad])
        assert caught.value.index == 1 and caught.value.name == name, bad
        assert name in str(caught.value) and reason in str(caught.value), str(caught.value)
        assert isinstance(caught.value, ValueError) and caught.value.kind == "invalidParams"


def test_caw_acp_keeps_links_as_links() -> None:
    target = ResourceLink(type="resource_link", uri="file:///w/notes.md", name="notes.md")
    assert (
        compose_prompt(["Look", target], read_links=False)
        == "Look\n\n[@notes.md](file:///w/notes.md)"
    )


def test_old_records_load_a_string_error_and_no_status_as_before() -> None:
    old = {
        "agent": "codex", "sessionId": "s1",
        "turns": [{"input": "a"}, {"input": "b", "stopReason": "error", "error": "boom"}],
    }  # fmt: skip
    t = Trajectory.model_validate(old)
    assert [turn.status for turn in t.turns] == ["completed", "failed"]
    assert t.turns[1].error is not None and t.turns[1].error.message == "boom"
    assert t.turns[1].failure_reason == "boom" and t.turns[0].attachments == []
    wire = t.turns[1].to_wire()
    assert wire["status"] == "failed" and wire["error"] == {"kind": "internal", "message": "boom"}
