"""Protocol 1.2's edits and models, end to end: real CLIs through the daemon, for each provider.

One daemon session per provider serves every check, in order: an edit through the CLI's own
edit tool streams its diff; a shell command's edits appear in the turn's ``changes``;
session/changes gives before/after; session/revert restores the files on disk, and refuses
(writing nothing) once the user has changed a file again; providers/models lists the CLI's
models; session/configure's model reaches the scripted model server on the next request.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from caw.client import CawClient, RpcError
from caw.providers import provider_class
from caw.testing.environments import OTHER_MODEL, PROVIDER_ID
from tests.support.procs import descendants

pytestmark = pytest.mark.e2e

TURN = 120  # seconds: a generous bound for one turn on a busy 2-core machine

ORIGINAL = "def mean(xs):\n    return sum(xs) / len(xs)\n"
EDITED = "def mean(xs):\n    return sum(xs) / max(len(xs), 1)\n"


def edit_directive(provider: str, path: Path) -> str:
    """The scripted model's call of the CLI's own edit tool, changing ORIGINAL into EDITED."""
    old, new = "len(xs)", "max(len(xs), 1)"
    if provider == "claude_code":
        args = {"file_path": str(path), "old_string": old, "new_string": new}
        return f"[[call:Edit:{json.dumps(args)}]]"
    if provider == "opencode":
        args = {"filePath": str(path), "oldString": old, "newString": new}
        return f"[[call:edit:{json.dumps(args)}]]"
    # codex edits files with apply_patch through its shell tool: a fileChange item
    patch = (
        f"*** Begin Patch\n*** Update File: {path}\n@@\n def mean(xs):\n"
        f"-    return sum(xs) / len(xs)\n+    return sum(xs) / max(len(xs), 1)\n*** End Patch"
    )
    return f"[[tool:bash:apply_patch <<'EOF'\n{patch}\nEOF]]"


def other_model(provider: str) -> str:
    return f"{PROVIDER_ID}/{OTHER_MODEL}" if provider == "opencode" else OTHER_MODEL


def updates_of(client: CawClient, session_id: str, start: int) -> list[dict]:
    return [
        p["update"]
        for m, p in client.notifications[start:]
        if m == "session/update" and p["sessionId"] == session_id
    ]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "work space"  # a space in every path
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "stats.py").write_text(ORIGINAL)
    (folder / ".gitignore").write_text("*.log\n")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return folder


async def test_edits_review_revert_models_and_configure(
    provider, cli_env, scripted, spawn_daemon, tmp_path, workspace
):
    stats = workspace / "src" / "stats.py"
    git_before = sorted(p.name for p in (workspace / ".git").rglob("*"))
    client = await spawn_daemon("--data-dir", str(tmp_path / "data"), env=cli_env(provider))
    started = await client.start_session(
        provider=provider, cwd=str(workspace), trackChanges=True, permissionMode="bypass"
    )
    sid = started["sessionId"]
    # The user edits a file between the start (which took the baseline snapshot) and the
    # first send: not the turn's.
    (workspace / "by hand.txt").write_text("written by the user before the first send\n")

    # 1. An edit through the CLI's edit tool: its tool call carries the diff and the location.
    mark = len(client.notifications)
    answer = await asyncio.wait_for(client.send(sid, edit_directive(provider, stats)), TURN)
    assert stats.read_text() == EDITED
    calls = [u for u in updates_of(client, sid, mark) if u["kind"] == "toolCall" and u.get("diff")]
    assert len(calls) == 1, updates_of(client, sid, mark)
    assert calls[0]["diff"] == {
        "type": "diff", "path": str(stats), "oldText": ORIGINAL, "newText": EDITED,
    }  # fmt: skip
    assert calls[0]["locations"] == [{"path": str(stats), "line": 2}]
    turn = answer["turn"]
    recorded = [b for b in turn["output"] if b["type"] == "tool_use" and b.get("diff")]
    assert recorded[0]["diff"] == calls[0]["diff"], "the recorded turn keeps the diff"
    assert turn["changes"] == [{"path": "src/stats.py", "status": "modified"}]
    shadow = tmp_path / "data" / "sessions" / sid / "shadow.git"
    baseline = await asyncio.to_thread(
        subprocess.run,
        ["git", "--git-dir", str(shadow), "show", "refs/caw/baseline:src/stats.py"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert baseline.stdout == ORIGINAL, "the snapshot taken at start"

    # The user edits a file between turns: not the next turn's either.
    (workspace / "by hand.txt").write_text("edited by the user between turns\n")

    # 2. A shell command's edits are the turn's changes too (snapshots, not the tool's say).
    command = "echo hello > 'new notes.txt' && echo noise > debug.log && sed -i s/mean/average/ src/stats.py"
    answer = await asyncio.wait_for(client.send(sid, f"[[tool:bash:{command}]]"), TURN)
    averaged = EDITED.replace("mean", "average")
    assert stats.read_text() == averaged
    assert sorted(answer["turn"]["changes"], key=lambda c: c["path"]) == [
        {"path": "new notes.txt", "status": "added"},
        {"path": "src/stats.py", "status": "modified"},
    ], "ignored files (debug.log) are not listed"

    # 3. session/changes: each file's text before and after the turn.
    changes = await client.request("session/changes", {"sessionId": sid, "turn": 2})
    by_path = {c["path"]: c for c in changes["changes"]}
    assert (by_path["src/stats.py"]["before"], by_path["src/stats.py"]["after"]) == (
        EDITED,
        averaged,
    )
    assert (by_path["new notes.txt"]["before"], by_path["new notes.txt"]["after"]) == (
        None,
        "hello\n",
    )

    # 4. session/revert puts the files back as they were before the turn.
    reverted = await client.request("session/revert", {"sessionId": sid, "turn": 2})
    assert sorted(reverted["reverted"]) == ["new notes.txt", "src/stats.py"]
    assert stats.read_text() == EDITED
    assert not (workspace / "new notes.txt").exists()
    assert (workspace / "debug.log").read_text() == "noise\n", "not the turn's: left alone"
    assert (workspace / "by hand.txt").read_text() == "edited by the user between turns\n"

    # 5. A file changed by hand since the turn: refused, nothing written.
    stats.write_text(EDITED + "# mine\n")
    with pytest.raises(RpcError) as refused:
        await client.request("session/revert", {"sessionId": sid, "turn": 1})
    assert refused.value.kind == "filesChangedSince"
    assert refused.value.data["files"] == ["src/stats.py"]
    assert stats.read_text() == EDITED + "# mine\n"
    assert sorted(p.name for p in (workspace / ".git").rglob("*")) == git_before

    # 6. providers/models: the CLI's own list (claude: its aliases).
    listed = await client.request("providers/models", {"provider": provider})
    (entry,) = listed["providers"]
    ids = [m["id"] for m in entry["models"]]
    if provider == "claude_code":
        assert entry["source"] == "aliases" and {"sonnet", "opus", "haiku"} <= set(ids)
    else:
        assert entry["source"] == "cli" and entry.get("error") is None
        assert other_model(provider) in ids
    assert all(isinstance(m["reasoningLevels"], list) for m in entry["models"])

    # 7. session/configure: the next request carries the new model (claude switches it live).
    cli = provider_class(provider).cli
    assert client.pid is not None
    backends = sorted(pid for pid, cmd in descendants(client.pid).items() if cli in cmd)
    info = await client.request(
        "session/configure", {"sessionId": sid, "model": other_model(provider)}
    )
    assert info["model"] == other_model(provider) and info["sessionId"] == sid
    scripted.clear()
    answer = await asyncio.wait_for(client.send(sid, "Repeat after me: switched"), TURN)
    assert answer["turn"]["result"] == "switched"
    assert [r.model for r in scripted.main_requests()] == [OTHER_MODEL]
    if provider == "claude_code":  # set_model on the live process: no restart
        assert backends
        assert sorted(p for p, cmd in descendants(client.pid).items() if cli in cmd) == backends
    with pytest.raises(RpcError) as bad:
        await client.request("session/configure", {"sessionId": sid, "model": "--file=/etc"})
    assert bad.value.kind == "invalidParams"
