"""The real `claude` CLI against the scripted model server."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

pytestmark = pytest.mark.e2e

FLAGS = ["--output-format", "json", "--dangerously-skip-permissions"]


@pytest.fixture
def claude(require_cli):
    return require_cli("claude_code")


def run_json(run_cli, claude, env, *args):
    proc = run_cli([claude, "-p", *args, *FLAGS], env, timeout=60)
    assert proc.stdout.strip(), proc.stderr
    return proc, json.loads(proc.stdout)


def test_print_mode_resume_answers_from_history(claude, scripted, cli_env, run_cli):
    env = cli_env("claude_code")
    proc, first = run_json(run_cli, claude, env, "My deploy target is staging-eu. Remember that.")
    assert proc.returncode == 0, proc.stderr
    assert first["result"] == "Noted: deploy target is staging-eu."
    session_id = first["session_id"]

    proc, second = run_json(run_cli, claude, env, "--resume", session_id, "Where am I deploying?")
    assert proc.returncode == 0, proc.stderr
    assert second["result"] == "staging-eu"
    assert second["session_id"] == session_id
    last = scripted.main_requests()[-1]
    assert last.user_texts() == [
        "My deploy target is staging-eu. Remember that.",
        "Where am I deploying?",
    ]
    assert last.headers["x-api-key"] == "test-key"
    assert last.session_id == session_id

    # A fresh conversation does not know it.
    proc, fresh = run_json(run_cli, claude, env, "Where am I deploying?")
    assert fresh["result"] == "I don't know."


def test_stream_json_two_turns_in_one_process(claude, scripted, cli_env, run_cli):
    env = cli_env("claude_code")
    session_id = str(uuid.uuid4())
    proc = subprocess.Popen(
        [
            claude,
            "-p",
            "--verbose",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--session-id",
            session_id,
            "--dangerously-skip-permissions",
        ],
        env=env,
        cwd=run_cli.workdir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    results = []
    try:
        for text in [
            "My favorite number is 42. Acknowledge it.",
            "And what is my favorite number again?",
        ]:
            proc.stdin.write(
                json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n"
            )
            proc.stdin.flush()
            for line in proc.stdout:  # bounded by the test timeout below
                event = json.loads(line)
                if event["type"] == "result":
                    results.append(event)
                    break
            else:
                pytest.fail("claude exited early: " + proc.stderr.read())
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [r["result"] for r in results] == ["Noted: favorite number is 42.", "42"]
    assert {r["session_id"] for r in results} == {session_id}
    assert scripted.main_requests()[-1].user_texts() == [
        "My favorite number is 42. Acknowledge it.",
        "And what is my favorite number again?",
    ]


def test_tool_directive_runs_bash(claude, scripted, cli_env, run_cli):
    env = cli_env("claude_code")
    proc, out = run_json(run_cli, claude, env, "[[tool:bash:echo hello]] Run it.")
    assert proc.returncode == 0, proc.stderr
    assert out["result"] == "Tool said: hello"
    main = scripted.main_requests()
    assert [r.reply_tool for r in main] == ["Bash", None]
    tool_use = main[1].body["messages"][-2]["content"][-1]
    assert tool_use["type"] == "tool_use" and tool_use["input"] == {"command": "echo hello"}


def test_api_error_fails_fast_without_retries(claude, scripted, cli_env, run_cli):
    env = cli_env("claude_code")  # max_retries=0 -> CLAUDE_CODE_MAX_RETRIES=0
    proc, out = run_json(run_cli, claude, env, "[[fail:529]] hello")
    assert proc.returncode == 1
    assert out["is_error"] is True and out["api_error_status"] == 529
    assert len(scripted.main_requests()) == 1
