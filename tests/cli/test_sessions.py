"""``caw sessions``: list, show, rm, and a conversation moved to another HOME by export/import."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from caw.testing import cli_environment

from .support import caw, last_json

pytestmark = pytest.mark.e2e


def test_export_on_one_home_import_on_another_resumes_the_conversation(
    provider, cli_env, scripted, tmp_path
):
    """The second HOME has a fresh CLI config, a fresh data dir and another working directory."""
    env_a = cli_env(provider)
    work_a = tmp_path / "machine-a" / "project"
    work_a.mkdir(parents=True)
    data_a = str(tmp_path / "data-a")
    first = caw("run", "--provider", provider, "--data-dir", data_a, "--json",
                "My deploy target is staging-eu.", env=env_a, cwd=work_a)  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    session_id = last_json(first)["sessionId"]
    bundle = tmp_path / "moved.caw.json"
    out = caw("sessions", "export", session_id[:8], "-o", str(bundle), "--data-dir", data_a,
              env=env_a, cwd=work_a)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    content = json.loads(bundle.read_text())
    assert content["format"] == "caw-session-bundle" and content["handle"] is None
    assert content["transcript"]["files"]

    env_b = cli_environment(provider, scripted.base_url, tmp_path / "machine-b")
    assert env_b["HOME"] != env_a["HOME"]
    work_b = tmp_path / "machine-b" / "elsewhere"
    work_b.mkdir(parents=True)
    data_b = str(tmp_path / "data-b")
    out = caw("sessions", "import", str(bundle), "--data-dir", data_b, env=env_b, cwd=work_b)
    assert out.returncode == 0, out.stderr[-3000:]
    again = caw("run", "--data-dir", data_b, "--resume", "last", "--json",
                "Where am I deploying?", env=env_b, cwd=work_b)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    result = last_json(again)
    assert result["sessionId"] == session_id
    assert result["turn"]["result"] == "staging-eu"
    listed = caw("sessions", "list", "--json", "--data-dir", data_b, env=env_b, cwd=work_b)
    (row,) = json.loads(listed.stdout)
    assert row["sessionId"] == session_id and row["turns"] == 2


@pytest.fixture
def exported(cli_env, require_cli, scripted, tmp_path):
    """One claude session recorded and exported with its handle."""
    require_cli("claude_code")
    env = cli_env("claude_code")
    data = str(tmp_path / "data")
    out = caw("run", "--data-dir", data, "--json", "My colour is teal.", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    bundle = tmp_path / "b.json"
    session_id = last_json(out)["sessionId"]
    out = caw("sessions", "export", session_id, "-o", str(bundle), "--include-handle",
              "--data-dir", data, env=env, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return env, data, session_id, bundle


def _fresh_import(bundle: Path, tmp_path: Path, env: dict[str, str]):
    home = tmp_path / "other"
    other = {**env, "HOME": str(home), "XDG_DATA_HOME": str(home / "share")}
    home.mkdir(exist_ok=True)
    return caw("sessions", "import", str(bundle), "--data-dir", str(home / "data"),
               env=other, cwd=home)  # fmt: skip


def test_list_show_and_rm(exported, tmp_path):
    env, data, session_id, bundle = exported
    assert json.loads(bundle.read_text())["handle"]  # --include-handle
    listed = caw("sessions", "list", "--data-dir", data, env=env, cwd=tmp_path)
    assert session_id in listed.stdout and "My colour is teal." in listed.stdout
    elsewhere = caw("sessions", "list", "--data-dir", data, env=env, cwd=Path("/"))
    assert session_id not in elsewhere.stdout
    assert (
        session_id
        in caw("sessions", "list", "--all", "--data-dir", data, env=env, cwd=Path("/")).stdout
    )
    shown = caw("sessions", "show", session_id, "--data-dir", data, env=env, cwd=tmp_path)
    assert "> My colour is teal." in shown.stdout and "Noted: colour is teal." in shown.stdout
    refused = caw("sessions", "rm", session_id, "--data-dir", data, env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    removed = caw("sessions", "rm", session_id, "--yes", "--data-dir", data, env=env, cwd=tmp_path)
    assert removed.returncode == 0
    assert not (Path(data) / "sessions" / session_id).exists()


def test_import_refuses_a_tampered_bundle(exported, tmp_path):
    env, _, _, bundle = exported
    content = json.loads(bundle.read_text())
    content["trajectory"]["turns"][0]["input"] = "My colour is red."
    bundle.write_text(json.dumps(content))
    out = _fresh_import(bundle, tmp_path, env)
    assert out.returncode == 2 and "altered after export" in out.stderr, out.stderr


def test_import_refuses_another_cli_release(exported, tmp_path):
    from caw.cli.bundle import Bundle, write_bundle

    env, _, _, bundle = exported
    content = Bundle.model_validate_json(bundle.read_text())
    assert content.transcript is not None
    content.transcript.cli_version = "0.0.1"
    write_bundle(content, bundle)  # sealed again: only the version is wrong
    out = _fresh_import(bundle, tmp_path, env)
    assert out.returncode == 2 and "0.0.1" in out.stderr and "major.minor" in out.stderr, out.stderr


def test_import_refuses_what_is_not_a_bundle(tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    out = caw("sessions", "import", str(junk), "--data-dir", str(tmp_path / "d"),
              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 2 and "not a caw session bundle" in out.stderr
