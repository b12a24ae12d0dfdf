"""``caw auth`` (caw 0.1.9's docker-credentials guide) on a fake HOME: the auth dir it writes,
the docker flags, status, teardown's refusals, the container script, and no secret anywhere
caw writes or prints."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import caw
from caw import auth
from caw.cli import main

SECRET = "sk-ant-oat01-very-secret"
CODEX_SECRET = "codex-refresh-very-secret"
EXPIRES_MS = 1_900_000_000_000  # 2030-03-17


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".codex").mkdir()
    oauth = {"claudeAiOauth": {"accessToken": SECRET, "expiresAt": EXPIRES_MS}}
    (home / ".claude" / ".credentials.json").write_text(json.dumps(oauth))
    claude_config = {"hasCompletedOnboarding": True, "userID": "u1",
                     "projects": {"/home/me/secret-project": {"history": ["my prompt"]}}}  # fmt: skip
    (home / ".claude.json").write_text(json.dumps(claude_config))
    (home / ".codex" / "auth.json").write_text(
        json.dumps({"tokens": {"refresh_token": CODEX_SECRET}})
    )
    (home / ".codex" / "config.toml").write_text(
        'model = "gpt-5-codex"\n\n[projects."/home/me/repo"]\ntrust_level = "trusted"\n\n'
        "[tui]\nanimations = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CAW_HOME", raising=False)
    return home


def host_state(home: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in home.rglob("*") if p.is_file()}


def all_text_under(path: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in path.rglob("*") if p.is_file())


def test_setup_writes_an_owner_only_auth_dir_without_credentials(home):
    before = host_state(home)
    dest = auth.setup()
    assert dest == home / ".caw" / "auth"
    assert host_state(home / ".claude") == {k: v for k, v in before.items() if "/.claude/" in k}
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    for path in dest.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode in (0o700, 0o600), (path, oct(mode))
    written = all_text_under(dest)
    assert SECRET not in written and CODEX_SECRET not in written
    assert "secret-project" not in written and "/home/me/repo" not in written  # host details
    manifest = json.loads((dest / "manifest.json").read_text())
    files = {(f["agent"], f["file"], f["strategy"]) for f in manifest["files"]}
    assert files == {
        ("claude", ".claude/.credentials.json", "bind"), ("claude", ".claude.json", "copy"),
        ("codex", ".codex/auth.json", "bind"), ("codex", ".codex/config.toml", "copy"),
    }  # fmt: skip
    assert json.loads((dest / "claude" / "claude.json").read_text()) == {
        "hasCompletedOnboarding": True, "userID": "u1"
    }  # fmt: skip
    codex_config = (dest / "codex" / "config.toml").read_text()
    assert 'model = "gpt-5-codex"' in codex_config and "[tui]" in codex_config
    assert "trust_level" not in codex_config
    assert os.access(dest / "setup-container.sh", os.X_OK)


def test_docker_flags_mount_the_dir_and_each_credential(home):
    dest = auth.setup(agents=["all"])
    assert caw.auth_get_docker_flags() == (
        f"-v {dest}:/tmp/caw_auth:rw "
        f"-v {home}/.claude/.credentials.json:/tmp/caw_auth/claude/credentials.json:rw "
        f"-v {home}/.codex/auth.json:/tmp/caw_auth/codex/auth.json:rw"
    )


def test_agents_are_chosen_by_name_alias_or_login(home, tmp_path):
    dest = auth.setup(agents=["claude_code"], dest_dir=tmp_path / "only-claude")
    assert {s.agent for s in auth.get_status(auth_dir=dest)} == {"claude"}
    (home / ".codex" / "auth.json").unlink()
    for agents in (None, ["all"]):  # codex is not logged in: left out
        dest = auth.setup(agents=agents, dest_dir=tmp_path / f"detected-{agents}")
        assert {s.agent for s in auth.get_status(auth_dir=dest)} == {"claude"}
    with pytest.raises(auth.AuthError, match="codex is not logged in"):
        auth.setup(agents=["codex"], dest_dir=tmp_path / "x")
    with pytest.raises(auth.AuthError, match="unknown agent 'gemini'"):
        auth.setup(agents=["gemini"], dest_dir=tmp_path / "x")


def test_a_broken_credential_file_is_named_without_its_contents(home):
    (home / ".claude" / ".credentials.json").write_text(f'{{"token": "{SECRET}"')
    with pytest.raises(auth.AuthError) as err:
        auth.setup(agents=["claude"])
    assert ".credentials.json" in str(err.value) and SECRET not in str(err.value)


def test_status_reads_expiry_and_existence_from_the_host(home):
    auth.setup()
    statuses = {(s.agent, s.file): s for s in caw.auth_get_status()}
    creds = statuses[("claude", ".claude/.credentials.json")]
    assert creds.exists and creds.type == "credential" and creds.strategy == "bind"
    assert creds.token_expiry is not None and creds.token_expiry.startswith("2030-03-17")
    assert creds.path == str(home / ".claude" / ".credentials.json")
    (home / ".codex" / "auth.json").unlink()
    assert not {(s.agent, s.file): s for s in auth.get_status()}[
        ("codex", ".codex/auth.json")
    ].exists


def test_teardown_removes_only_an_auth_dir_and_never_a_login(home, tmp_path):
    dest = auth.setup()
    auth.teardown()
    assert not dest.exists()
    assert (home / ".claude" / ".credentials.json").is_file()
    auth.teardown()  # nothing to remove

    stranger = tmp_path / "not-auth"
    stranger.mkdir()
    (stranger / "keep.txt").write_text("x")
    with pytest.raises(auth.AuthError, match="did not write"):
        auth.teardown(auth_dir=stranger)
    assert (stranger / "keep.txt").exists()

    dest = auth.setup()  # caw's old design left the host file a link into the auth dir
    real = home / ".claude" / ".credentials.json"
    shutil.move(real, dest / "claude" / "old.json")
    real.symlink_to(dest / "claude" / "old.json")
    with pytest.raises(auth.AuthError, match="log you out"):
        auth.teardown()
    auth.teardown(force=True)
    assert not dest.exists()


def test_no_manifest_is_a_clear_error(home):
    with pytest.raises(auth.AuthError, match="caw auth setup"):
        auth.get_docker_flags()


def test_the_cli_commands(home, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    assert main(["auth", "setup", "--agents", "codex"]) == 0
    assert main(["auth", "docker-flags"]) == 0
    flags = capsys.readouterr().out.splitlines()[-1]
    assert flags.endswith("/tmp/caw_auth/codex/auth.json:rw") and "claude" not in flags
    assert main(["auth", "status"]) == 0
    status = capsys.readouterr().out
    assert ".codex/auth.json" in status and "docker flags: -v" in status
    assert main(["auth", "teardown"]) == 0
    assert main(["auth", "docker-flags"]) != 0
    err = capsys.readouterr().err
    assert "caw auth setup" in err
    logged = caplog.text + status + err
    assert SECRET not in logged and CODEX_SECRET not in logged


def test_the_container_script_installs_the_logins_for_the_user(home, tmp_path):
    if shutil.which("jq") is None:
        pytest.skip("the container script needs jq")
    dest = auth.setup()
    for line in auth.get_docker_flags().split(" -v ")[1:]:  # what docker would bind
        source, target, _ = line.split(":")
        shutil.copy(source, dest / target.removeprefix("/tmp/caw_auth/"))
    # Only the tools the copy needs: no package manager and no inotifywait, so the script
    # installs nothing and starts no sync guard here (those need a real container).
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("jq", "mkdir", "dirname", "cp", "chmod", "chown", "cmp", "sleep"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    container_home = tmp_path / "container-home"
    env = {"PATH": str(tools)}
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    done = subprocess.run(
        [shutil.which("sh") or "/bin/sh", str(dest / "setup-container.sh"), str(dest), str(container_home), user],
        env=env, capture_output=True, text=True, timeout=60, start_new_session=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    installed = container_home / ".claude" / ".credentials.json"
    assert installed.read_text() == (home / ".claude" / ".credentials.json").read_text()
    assert stat.S_IMODE(installed.stat().st_mode) == 0o600
    assert (container_home / ".codex" / "config.toml").is_file()
    assert SECRET not in done.stdout + done.stderr
    assert "credentials will not sync" in done.stderr
