"""``caw traj`` / ``caw-traj`` over caw 0.1.9's format (a hand-written fixture) and ours (a real run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .support import caw, last_json

FIXTURE = Path(__file__).with_name("fixtures") / "traj-0.1.9.json"
ENV = {"PATH": "/usr/bin:/bin"}


def traj(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return caw("traj", *args, env={**ENV, "HOME": str(cwd), **(env or {})}, cwd=cwd, timeout=60)


def test_overview_of_a_0_1_9_file(tmp_path):
    out = traj(str(FIXTURE), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "(caw-0.1.9 format)" in lines[0]
    assert (
        "Agent: claude_code | Model: claude-sonnet-4-5 | Turns: 1 | Steps: 3 top-level / 6 total"
        in lines[1]
    )
    assert "In: 1.5k | Out: 100" in lines[1]  # the subagent's usage is counted in
    assert lines[2] == "Tool usage: Edit=1, Read=1, security_reviewer=1"
    assert lines[4] == '[0] user: "Review the auth module and fix the typo in README.md" (52c, L13)'

    assert lines[5].startswith('[1] asst: "I should ask the reviewer subagent first. Asking')
    assert "tools: security_reviewer, Edit" in lines[5] and "[nested steps: 3]" in lines[5]
    assert lines[6].startswith('[2] asst: "Fixed the typo')
    assert len(lines) == 7  # nested steps only with --recursive


def test_recursive_and_nested_steps(tmp_path):
    out = traj(str(FIXTURE), "--recursive", cwd=tmp_path)
    assert '  [1/0] user: "Review auth.py"' in out.stdout
    assert "  [1/1] asst: (tool calls only, L31) tools: Read" in out.stdout
    out = traj(str(FIXTURE), "--step", "1/0-1", cwd=tmp_path)
    assert "[1/0] in the file: L29\n[1/0] user:\nReview auth.py" in out.stdout
    assert 'Tool Read input:\n{\n  "file_path": "auth.py"\n}' in out.stdout


def test_step_detail_shows_thinking_tools_and_the_diff(tmp_path):
    out = traj(str(FIXTURE), "--step", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Thinking:\nI should ask the reviewer subagent first." in text
    assert "Tool Edit input:" in text
    assert "-teh module\n+the module" in text
    assert "Output:\nThe file README.md has been updated." in text
    both = traj(str(FIXTURE), "--step", "0,2", cwd=tmp_path).stdout
    assert "[0] user:" in both and "[2] asst:" in both and "[1] asst:" not in both


def test_bad_input_is_one_clear_line(tmp_path):
    for args, message in [
        ((str(FIXTURE), "--step", "9"), "there is no step [9]"),
        ((str(FIXTURE), "--step", "0/1"), "step [0] has no nested steps"),
        ((str(FIXTURE), "--step", "x"), "invalid step"),
        ((str(tmp_path / "missing.json"),), "no such file"),
    ]:
        out = traj(*args, cwd=tmp_path)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "list.json").write_text("[]")
    out = traj(str(tmp_path / "list.json"), cwd=tmp_path)
    assert out.returncode == 2 and "not a trajectory" in out.stderr


def test_caw_traj_script_is_the_same_view(tmp_path):
    script = Path(sys.executable).with_name("caw-traj")  # the console script pyproject declares
    out = subprocess.run(
        [str(script), str(FIXTURE), "--step", "2"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "Fixed the typo" in out.stdout
    assert out.stdout == traj(str(FIXTURE), "--step", "2", cwd=tmp_path).stdout


@pytest.mark.e2e
def test_our_trajectory_with_a_tool_call_by_session_id(cli_env, require_cli, scripted, tmp_path):
    require_cli("claude_code")
    env = cli_env("claude_code")
    data = str(tmp_path / "d")
    out = caw(
        "run",
        "--json",
        "--data-dir",
        data,
        "[[tool:bash:echo hello]] run it",
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    session_id = last_json(out)["sessionId"]
    view = traj(session_id[:8], "--data-dir", data, cwd=tmp_path, env=env)
    assert view.returncode == 0, view.stderr
    assert "(caw format)" in view.stdout and "Tool usage: Bash=1" in view.stdout
    assert "L?" not in view.stdout  # every step found in our trajectory.json
    assert '[0] user: "[[tool:bash:echo hello]] run it"' in view.stdout
    detail = traj(session_id, "--data-dir", data, "--step", "1-2", cwd=tmp_path, env=env).stdout
    assert '"command": "echo hello"' in detail and "Output:\nhello" in detail, detail
    assert "Tool said: hello" in detail
    assert json.loads((Path(data) / "sessions" / session_id / "trajectory.json").read_text())
