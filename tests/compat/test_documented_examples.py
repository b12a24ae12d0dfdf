"""caw 0.1.9's documented examples run unchanged, through the real CLIs against the scripted
server (only the environment says where the model server is and which provider to use).

The examples are read from caw 0.1.9's documentation (``CAW_0_1_9_DOCS``, default
``../shared/caw-0.1.9-docs`` beside the repository); without it these tests are skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DOCS = Path(os.environ.get("CAW_0_1_9_DOCS", REPO.parent / "shared" / "caw-0.1.9-docs"))


def readme_block(heading: str) -> str:
    """The first python block under ``heading`` in 0.1.9's README."""
    if not (DOCS / "README.md").is_file():
        pytest.skip(f"caw 0.1.9's documentation is not at {DOCS}")
    text = (DOCS / "README.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, heading
    return found.group(1)


def example(name: str) -> str:
    path = DOCS / "examples" / name
    if not path.is_file():
        pytest.skip(f"caw 0.1.9's example {name} is not at {path}")
    return path.read_text(encoding="utf-8")


def run(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = cwd / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {**env, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-3000:]}"
    return done


def test_readme_quick_start(provider, cli_env, tmp_path, scripted):
    # codex reports no cost: caw prices its turn from the pricing table (caw.pricing).
    out = run(
        readme_block("### Quick start"), {**cli_env(provider), "CAW_PROVIDER": provider}, tmp_path
    )
    assert out.stdout.startswith("You said: Explain what this repository does")
    assert re.search(r"\d+ tokens, \$\d+\.\d{4}", out.stdout)


def test_readme_multi_turn(cli_env, tmp_path, scripted):
    out = run(readme_block("### Multi-turn sessions"), cli_env("claude_code"), tmp_path)
    assert out.stdout.splitlines() == [
        "You said: Review src/auth.py for vulnerabilities",
        "You said: Now check src/api.py",
    ]
    request = scripted.main_requests()[-1]
    assert "You are a security reviewer." in request.system


def test_resume_example(provider, cli_env, tmp_path, scripted):
    out = run(example("resume.py"), {**cli_env(provider), "CAW_PROVIDER": provider}, tmp_path)
    assert "[with data_dir]    recalled: '42'" in out.stdout
    assert "[with data_dir]    turns in trajectory: 2" in out.stdout
    assert "[without data_dir] recalled: '42'" in out.stdout
    assert "[without data_dir] turns in trajectory: 1" in out.stdout


def test_auto_provider_example(cli_env, tmp_path, scripted):
    out = run(example("auto_provider.py"), cli_env("opencode"), tmp_path)
    assert "Auto-selected provider: opencode" in out.stdout
    assert "Provider used: opencode" in out.stdout
    assert "Per-provider models: {'opencode': 'openai/gpt-5.5'" in out.stdout


def test_health_example(provider, cli_env, tmp_path):
    out = run(example("health.py"), cli_env(provider), tmp_path)
    assert "claude_code → installed=True" in out.stdout


def test_auth_example(tmp_path):
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / ".credentials.json").write_text(
        '{"claudeAiOauth": {"accessToken": "secret-token", "expiresAt": 1900000000000}}'
    )
    env = {**os.environ, "HOME": str(home)}
    env.pop("CAW_HOME", None)
    out = run(example("auth.py"), env, tmp_path)
    assert "claude/.claude/.credentials.json: type=credential, strategy=bind, exists=True" in (
        out.stdout
    )
    assert "token: 2030-03-17" in out.stdout
    assert "docker run -v " in out.stdout and "/tmp/caw_auth/claude/credentials.json:rw" in (
        out.stdout
    )
    assert "secret-token" not in out.stdout + out.stderr
