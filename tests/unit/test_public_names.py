"""caw's public names are imported on first use (PEP 562), so that importing one of caw's
modules (caw-server's wire models: caw.models) does not import the agent stack (issue 20)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import caw
from caw.providers import CLI_NAMES, PROVIDER_NAMES, find_cli, provider_class

STACK = ("caw.agent", "caw.session", "caw.compat.front", "caw.providers.claude_code")


def _imported_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}; import json, sys; print(json.dumps(list(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(out.stdout))


def test_caw_and_its_models_import_no_agent_stack():
    for code in ("import caw", "import caw.models, caw.events, caw.errors, caw.handle"):
        early = _imported_after(code) & set(STACK)
        assert not early, f"{code!r} imports {sorted(early)}"


def test_a_public_name_imports_what_it_needs():
    assert {"caw.agent", "caw.session"} <= _imported_after("from caw import AsyncAgent")


def test_every_public_name_resolves_and_is_listed():
    for name in caw.__all__:
        assert getattr(caw, name) is not None, name
    assert set(caw.__all__) <= set(dir(caw))
    from caw.agent import AsyncAgent
    from caw.compat.front import Agent

    assert caw.AsyncAgent is AsyncAgent
    assert caw.Agent is Agent


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NoSuchName"):
        caw.NoSuchName  # noqa: B018 (the lookup is the test)


def test_find_cli_knows_each_cli_without_its_adapter(monkeypatch, tmp_path):
    assert set(CLI_NAMES) == set(PROVIDER_NAMES)
    for name, cli in CLI_NAMES.items():
        cls = provider_class(name)
        assert cls.cli == cli
        stand_in = tmp_path / f"{cli}-stand-in"
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
        monkeypatch.setenv(cls.cli_env_var(), str(stand_in))
        assert find_cli(name) == cls.find_cli() == str(stand_in)
        monkeypatch.delenv(cls.cli_env_var())
        empty = {"PATH": str(tmp_path / "nothing-here")}
        assert find_cli(name, empty) is cls.find_cli(empty) is None
