"""The trust store (caw.trust_store): a folder trusted once is used without asking until its
agent configuration changes; the store is private, atomic, and a planted one is ignored."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from caw import trust_store
from caw.trust import UntrustedWorkspace, check_workspace


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "state" / "trust.json"
    monkeypatch.setenv("CAW_TRUST_FILE", str(path))
    return path


def configured(root: Path) -> Path:
    repo = root / "repo"
    (repo / ".claude").mkdir(parents=True)
    (repo / ".claude" / "settings.json").write_text('{"hooks": {}}')
    (repo / ".opencode" / "plugin").mkdir(parents=True)
    (repo / ".opencode" / "plugin" / "a.js").write_text("export const A = async () => ({});")
    return repo


def refused(repo: Path) -> bool:
    try:
        check_workspace(str(repo), None, "claude_code")
    except UntrustedWorkspace:
        return True
    return False


def test_trusted_true_is_remembered_until_the_configuration_changes(store, tmp_path):
    repo = configured(tmp_path)
    assert refused(repo)
    check_workspace(str(repo), True, "claude_code")
    assert not refused(repo)  # remembered
    (repo / ".claude" / "settings.json").write_text('{"hooks": {"SessionStart": []}}')
    assert refused(repo)  # a changed hook asks again
    check_workspace(str(repo), True, "claude_code")
    assert not refused(repo)
    (repo / ".opencode" / "plugin" / "b.js").write_text("export const B = async () => ({});")
    assert refused(repo)  # a new plugin asks again
    check_workspace(str(repo), True, "claude_code")
    (repo / ".mcp.json").write_text("{}")
    assert refused(repo)  # new configuration asks again


def test_a_package_managers_output_does_not_count(store, tmp_path):
    repo = configured(tmp_path)
    check_workspace(str(repo), True, "opencode")
    (repo / ".opencode" / "node_modules" / "dep").mkdir(parents=True)
    (repo / ".opencode" / "node_modules" / "dep" / "index.js").write_text("x")
    assert not refused(repo)


def test_links_are_hashed_by_target_not_followed(store, tmp_path):
    repo = configured(tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (repo / ".mcp.json").symlink_to(outside)
    check_workspace(str(repo), True, "claude_code")
    outside.write_text('{"mcpServers": {}}')  # the target's content is not the folder's
    assert not refused(repo)
    (repo / ".mcp.json").unlink()
    (repo / ".mcp.json").symlink_to(tmp_path / "elsewhere.json")
    assert refused(repo)


def test_the_store_is_private_atomic_and_keyed_by_real_path(store, tmp_path):
    repo = configured(tmp_path)
    os.umask(0)
    try:
        check_workspace(str(repo), True, "claude_code")
    finally:
        os.umask(0o022)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    data = json.loads(store.read_text())
    entry = data["folders"][os.path.realpath(repo)]
    assert entry["files"] == [".claude/settings.json", ".opencode"]
    assert entry["digest"].startswith("sha256:")
    assert sorted(p.name for p in store.parent.iterdir()) == ["trust.json", "trust.json.lock"]
    link = tmp_path / "link"
    link.symlink_to(repo)
    assert not refused(link)  # the same folder by another path


def test_revoke_forgets_the_folder(store, tmp_path):
    repo = configured(tmp_path)
    check_workspace(str(repo), True, "claude_code")
    assert trust_store.revoke(repo) is True
    assert refused(repo)
    assert trust_store.revoke(repo) is False


@pytest.mark.parametrize("how", ["group-writable", "symlink", "not-json", "wrong-shape"])
def test_a_planted_or_broken_store_trusts_nothing(how, store, tmp_path, caplog):
    repo = configured(tmp_path)
    check_workspace(str(repo), True, "claude_code")
    if how == "group-writable":
        store.chmod(0o660)
    elif how == "symlink":
        real = tmp_path / "planted.json"
        real.write_bytes(store.read_bytes())
        store.unlink()
        store.symlink_to(real)
    elif how == "not-json":
        store.write_text("{")
    else:
        store.write_text('{"version": 1, "folders": {"x": 1}}')
    assert refused(repo)
    assert "trust store" in caplog.text


def test_an_unwritable_store_costs_a_warning_not_the_session(store, tmp_path, caplog):
    repo = configured(tmp_path)
    store.parent.mkdir(mode=0o700)
    store.symlink_to(tmp_path / "elsewhere")  # a store caw refuses to write through
    check_workspace(str(repo), True, "claude_code")  # does not raise
    assert "could not record" in caplog.text
    assert not (tmp_path / "elsewhere").exists()


def test_home_and_unconfigured_folders_are_not_recorded(store, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    check_workspace(str(plain), True, "claude_code")
    assert not store.exists()


def test_opencode_adding_its_schema_key_changes_nothing(store, tmp_path):
    """opencode writes "$schema" into a project's opencode.json when it loads it; any other
    change to the JSON still asks again."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "opencode.json").write_text('{"mcp": {"x": {"command": ["a"]}}}')
    check_workspace(str(repo), True, "opencode")
    (repo / "opencode.json").write_text(
        '{\n  "$schema": "https://opencode.ai/config.json","mcp": {"x": {"command": ["a"]}}}'
    )
    assert not refused(repo)
    (repo / "opencode.json").write_text('{"mcp": {"x": {"command": ["b"]}}}')
    assert refused(repo)
