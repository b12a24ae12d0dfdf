"""Unit tests of the hermetic CLI environments (no CLI is run here)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from caw.testing import PROVIDER_CLI, backends_bin_dir, cli_environment
from caw.testing.environments import OTHER_MODEL, scrub_environment

LEAKS = {
    "ANTHROPIC_API_KEY": "sk-real",
    "ANTHROPIC_AUTH_TOKEN": "real",
    "OPENAI_API_KEY": "sk-real",
    "OPENAI_BASE_URL": "https://api.example",
    "CODEX_HOME": "/root/.codex",
    "OPENCODE_CONFIG": "/root/oc.json",
    "CLAUDE_CONFIG_DIR": "/root/.claude",
    "CLAUDECODE": "1",
    "XDG_CONFIG_HOME": "/root/.config",
}


@pytest.fixture
def leaky_env(monkeypatch):
    for k, v in LEAKS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("CAW_UNRELATED", "kept")


def test_scrub_environment():
    env = scrub_environment({**LEAKS, "PATH": "/bin", "LANG": "C"})
    assert env == {"PATH": "/bin", "LANG": "C"}


@pytest.mark.parametrize("provider", sorted(PROVIDER_CLI))
def test_no_real_account_leaks(provider, tmp_path, leaky_env):
    env = cli_environment(provider, "http://127.0.0.1:1234", tmp_path)
    for k, v in LEAKS.items():
        assert env.get(k) != v, k
    assert env["CAW_UNRELATED"] == "kept"
    home = Path(env["HOME"])
    assert home.is_dir() and tmp_path.resolve() in home.parents
    assert env["XDG_CONFIG_HOME"].startswith(env["HOME"])
    bin_dir = backends_bin_dir()
    if bin_dir is not None:
        assert env["PATH"].split(os.pathsep)[0] == str(bin_dir)
    # the same root gives the same home (resume across processes)
    assert cli_environment(provider, "http://127.0.0.1:1234", tmp_path)["HOME"] == env["HOME"]


def test_claude_environment(tmp_path):
    env = cli_environment("claude_code", "http://127.0.0.1:1234/", tmp_path)
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1234"
    assert env["ANTHROPIC_API_KEY"] == "test-key"
    assert env["IS_SANDBOX"] == "1"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "0"
    env = cli_environment("claude_code", "http://127.0.0.1:1234/", tmp_path, max_retries=None)
    assert "CLAUDE_CODE_MAX_RETRIES" not in env


def test_codex_environment(tmp_path):
    tomllib = pytest.importorskip("tomllib")
    env = cli_environment("codex", "http://127.0.0.1:1234", tmp_path, model="m-1", max_retries=2)
    codex_home = Path(env["CODEX_HOME"])
    assert codex_home == Path(env["HOME"]) / ".codex"
    config = tomllib.loads((codex_home / "config.toml").read_text())
    assert config["model"] == "m-1"
    assert config["model_provider"] == "caw-scripted"
    provider = config["model_providers"]["caw-scripted"]
    assert provider["base_url"] == "http://127.0.0.1:1234/v1"
    assert provider["wire_api"] == "responses"
    assert env[provider["env_key"]] == "test-key"
    assert provider["request_max_retries"] == provider["stream_max_retries"] == 2
    catalog = json.loads(Path(config["model_catalog_json"]).read_text())
    # the model asked for, and a second one to switch to (session/configure's tests)
    assert [m["slug"] for m in catalog["models"]] == ["m-1", OTHER_MODEL]


def test_opencode_environment(tmp_path):
    env = cli_environment("opencode", "http://127.0.0.1:1234", tmp_path)
    config = json.loads((Path(env["HOME"]) / ".config" / "opencode" / "opencode.json").read_text())
    assert config["model"] == "caw-scripted/caw-scripted-1"
    provider = config["provider"]["caw-scripted"]
    assert provider["npm"] == "@ai-sdk/anthropic"
    assert provider["options"]["baseURL"] == "http://127.0.0.1:1234/v1"
    assert "caw-scripted-1" in provider["models"]
    assert env["OPENCODE_DISABLE_MODELS_FETCH"] == "1" and env["OPENCODE_DISABLE_AUTOUPDATE"] == "1"
    assert env["npm_config_offline"] == "true"


def test_unknown_provider(tmp_path):
    with pytest.raises(ValueError, match="unknown provider 'gemini'"):
        cli_environment("gemini", "http://x", tmp_path)


def test_backends_dir_override(tmp_path, monkeypatch):
    (tmp_path / "node_modules" / ".bin").mkdir(parents=True)
    monkeypatch.setenv("CAW_BACKENDS_DIR", str(tmp_path))
    assert backends_bin_dir() == tmp_path / "node_modules" / ".bin"
