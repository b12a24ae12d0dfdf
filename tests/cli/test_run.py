"""``caw run`` through the real CLIs against the scripted model server."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from caw.cli.run import json_schema

from .support import caw

pytestmark = pytest.mark.e2e


def test_a_fact_in_one_run_is_recalled_in_the_next_with_resume_last(
    provider, cli_env, scripted, tmp_path
):
    """Two processes, no --data-dir: the default data dir (under XDG_DATA_HOME) carries `last`."""
    env = cli_env(provider)
    work = tmp_path / "project"
    work.mkdir()
    first = caw("run", "--provider", provider, "My deploy target is staging-eu.", env=env, cwd=work)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.strip() == "Noted: deploy target is staging-eu."
    second = caw("run", "--resume", "last", "--json", "Where am I deploying?", env=env, cwd=work)
    assert second.returncode == 0, second.stderr[-3000:]
    out = json.loads(second.stdout)
    jsonschema.validate(out, json_schema())
    assert out["status"] == "answered" and out["exitStatus"] == 0
    assert out["turn"]["result"] == "staging-eu"
    assert out["provider"] == provider
    handle = json.loads(out["resumeHandle"])
    assert handle["session_id"] == out["sessionId"]
    # the default data dir is the platform's user data dir, owner-only, the handle never on stderr
    data = Path(env["XDG_DATA_HOME"]) / "caw"
    sdir = data / "sessions" / out["sessionId"]
    assert stat.S_IMODE(sdir.stat().st_mode) == 0o700
    assert stat.S_IMODE((sdir / "handle.json").stat().st_mode) == 0o600
    trajectory = json.loads((sdir / "trajectory.json").read_text())
    assert [t["input"] for t in trajectory["turns"]] == [
        "My deploy target is staging-eu.",
        "Where am I deploying?",
    ]
    assert handle["resume_key"] not in first.stderr + second.stderr


@pytest.fixture
def claude_env(cli_env, require_cli):
    require_cli("claude_code")
    return cli_env("claude_code")


def test_prompt_on_stdin_and_jsonl_events(claude_env, scripted, tmp_path):
    out = caw(
        "run", "--jsonl", "--data-dir", str(tmp_path / "d"), env=claude_env, cwd=tmp_path,
        stdin="Repeat after me: hello there",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    events = [line["event"] for line in lines[:-1]]
    assert all(line["type"] == "event" for line in lines[:-1])
    assert "".join(e["text"] for e in events if e["kind"] == "text") == "hello there"
    final = lines[-1]
    jsonschema.validate(final, json_schema())
    assert final["status"] == "answered" and final["resumeHandle"] is None  # never in jsonl


@pytest.mark.parametrize(
    ("prompt", "status", "name"),
    [
        ("[[usage-limit]] hi", 3, "usageLimit"),
        ("[[fail:400]] hi", 1, "failed"),
    ],
)
def test_exit_status_says_what_happened(claude_env, scripted, tmp_path, prompt, status, name):
    out = caw(
        "run", "--json", "--data-dir", str(tmp_path / "d"), prompt, env=claude_env, cwd=tmp_path
    )
    assert out.returncode == status, out.stderr[-3000:]
    result = json.loads(out.stdout)
    jsonschema.validate(result, json_schema())
    assert result["status"] == name and result["exitStatus"] == status and result["error"]


def test_bad_usage_and_unknown_session(claude_env, tmp_path):
    out = caw(
        "run",
        "--data-dir",
        str(tmp_path / "d"),
        "--resume",
        "nope",
        "hi",
        env=claude_env,
        cwd=tmp_path,
    )
    assert out.returncode == 5 and "no session 'nope'" in out.stderr
    out = caw("run", "--data-dir", str(tmp_path / "d"), env=claude_env, cwd=tmp_path, stdin="  ")
    assert out.returncode == 2 and "empty" in out.stderr
    out = caw(
        "run",
        "--data-dir",
        str(tmp_path / "d"),
        "--resume",
        "last",
        "hi",
        env=claude_env,
        cwd=tmp_path,
    )
    assert out.returncode == 5 and "no session recorded for" in out.stderr
    assert "Traceback" not in out.stderr


def test_ctrl_c_cancels_the_turn_with_status_130(claude_env, scripted, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "caw.cli", "run", "--json", "--data-dir", str(tmp_path / "d"),
         "[[slow:20]] Repeat after me: a slow answer"],
        env=claude_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        scripted.wait_for_request(lambda r: r.kind == "main", timeout=60)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr[-3000:]
    assert time.monotonic() - started < 15  # not the 20 s the slow answer would take
    result = json.loads(stdout)
    jsonschema.validate(result, json_schema())
    assert result["status"] == "cancelled"
    assert os.path.isdir(tmp_path / "d" / "sessions" / result["sessionId"])


def test_resume_by_handle_into_another_data_dir(claude_env, scripted, tmp_path):
    first = caw("run", "--json", "--data-dir", str(tmp_path / "a"), "My colour is teal.",
                env=claude_env, cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    handle = json.loads(first.stdout)["resumeHandle"]
    again = caw("run", "--data-dir", str(tmp_path / "b"), "--resume", handle, "What is my colour?",
                env=claude_env, cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout == "teal\n"
    assert json.loads(handle)["resume_key"] not in again.stderr
