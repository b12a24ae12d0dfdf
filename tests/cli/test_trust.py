"""``caw trust``: trust a folder, list the trusted ones, revoke; what it records is what the
library and the daemon consult (caw.trust_store)."""

from __future__ import annotations

import os

import pytest

from caw.trust import UntrustedWorkspace, check_workspace

from .support import caw


def test_caw_trust_records_lists_and_revokes(tmp_path, monkeypatch):
    store = tmp_path / "trust.json"
    env = {**os.environ, "CAW_TRUST_FILE": str(store)}
    monkeypatch.setenv("CAW_TRUST_FILE", str(store))
    repo = tmp_path / "repo"
    (repo / ".claude").mkdir(parents=True)
    (repo / ".claude" / "settings.json").write_text('{"hooks": {}}')

    listed = caw("trust", "--list", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "no trusted folders" in listed.stdout

    trusted = caw("trust", env=env, cwd=repo)  # PATH defaults to the current folder
    assert trusted.returncode == 0, trusted.stderr
    assert f"trusted {repo.resolve()} (.claude/settings.json)" in trusted.stdout
    check_workspace(str(repo), None, "claude_code")  # the library no longer asks

    listed = caw("trust", "--list", env=env, cwd=tmp_path)
    assert str(repo.resolve()) in listed.stdout and "  trusted  " in listed.stdout
    (repo / ".claude" / "settings.json").write_text('{"hooks": {"SessionStart": []}}')
    listed = caw("trust", "--list", env=env, cwd=tmp_path)
    assert "changed since: will ask again" in listed.stdout
    with pytest.raises(UntrustedWorkspace):  # a changed hook is asked about again
        check_workspace(str(repo), None, "claude_code")

    assert caw("trust", str(repo), env=env, cwd=tmp_path).returncode == 0
    revoked = caw("trust", str(repo), "--revoke", env=env, cwd=tmp_path)
    assert revoked.returncode == 0 and "no longer trusted" in revoked.stdout
    again = caw("trust", str(repo), "--revoke", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "was not trusted" in again.stdout

    missing = caw("trust", str(tmp_path / "nope"), env=env, cwd=tmp_path)
    assert missing.returncode != 0 and "not a folder" in missing.stderr
    assert "Traceback" not in missing.stderr
