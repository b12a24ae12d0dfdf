"""A session's title from its first message (caw.titles)."""

from __future__ import annotations

import pytest

from caw.errors import UnknownSession
from caw.models import Trajectory, Turn
from caw.store import Store
from caw.titles import MAX_TITLE, title_from_message


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("Fix the flaky test", "Fix the flaky test"),
        ("# Fix **the** bug in `stats.py`\nand more below", "Fix the bug in stats.py"),
        ("\n\n  > quoted _ask_ here\n", "quoted ask here"),
        ("- [ ] do the *thing*", "do the thing"),
        ("See [the docs](https://x.test/a) and ![logo](l.png) now", "See the docs and logo now"),
        ("<b>Hello</b> <i>world</i>", "Hello world"),
        ("```py\nprint(1)\n```\nWhy does this fail?", "Why does this fail?"),
        ('<context ref="file:///a.py">\nsecret body\n</context>\n\nExplain it', "Explain it"),
        ("---\n***\nAfter the rules", "After the rules"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("", ""),
        ("```\n}\n```", "```"),  # only code: its first line rather than nothing
    ],
)
def test_title_from_message(message: str, title: str) -> None:
    assert title_from_message(message) == title


def test_a_long_line_is_cut_at_a_word_within_the_limit() -> None:
    title = title_from_message("please " * 30)
    assert len(title) <= MAX_TITLE and title.endswith("…") and "pleas…" not in title
    unbroken = title_from_message("x" * 200)
    assert len(unbroken) == MAX_TITLE and unbroken.endswith("…")


def test_the_trajectory_title_prefers_the_stored_then_metadata_then_first_message() -> None:
    t = Trajectory(agent="codex", session_id="s1", turns=[Turn(input="**Hi** there")])
    assert t.title == "Hi there"
    t.metadata["title"] = "from metadata"
    assert t.title == "from metadata"
    t.session_title = "renamed"
    assert t.title == "renamed"
    assert Trajectory(agent="codex", session_id="s2").title == ""


def test_a_stored_session_is_renamed_and_deleted_in_the_data_dir(tmp_path) -> None:
    store = Store(tmp_path / "data")
    sdir = store.create("s1")
    sdir.save_trajectory(Trajectory(agent="codex", session_id="s1", turns=[Turn(input="hi")]))
    assert store.rename("s1", " New\n name ").title == "New name"
    loaded = store.session("s1").load_trajectory()
    assert loaded is not None and loaded.title == "New name"
    store.delete("s1")
    assert not (tmp_path / "data/sessions/s1").exists() and not store.has("s1")
    for act in (lambda: store.rename("s1", "x"), lambda: store.delete("s1")):
        with pytest.raises(UnknownSession):
            act()
