"""Hermetic environments for running the real agent CLIs against the scripted model server.

``cli_environment(provider, base_url, root)`` makes a private home under
``root`` and returns a complete environment (``os.environ`` minus anything that
could reach a real account) in which ``claude``, ``codex`` or ``opencode`` talk
only to the scripted model server at ``base_url``.  Calling it again with the
same ``root`` and provider returns the same home, so conversations persist
between processes (that is what resume tests need).

What each CLI needs (observed with claude 2.1.332, codex-cli 0.169.0,
opencode 1.18.33; see caw/testing/README.md for the longer list)

claude_code
    ``ANTHROPIC_BASE_URL`` + ``ANTHROPIC_API_KEY`` are enough; no onboarding in
    ``-p`` mode.  ``IS_SANDBOX=1`` is required to use
    ``--dangerously-skip-permissions`` as root.
    ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` leaves only the
    ``POST /v1/messages`` turns (no title or quota side requests were seen).
    ``CLAUDE_CODE_MAX_RETRIES`` sets how often an API error is retried
    (default ~10 with exponential backoff: a ``[[fail:500]]`` turn then takes
    minutes); ``max_retries=0`` here makes it fail at once.  A cut stream is
    still retried once even then.
codex
    A custom provider in ``$CODEX_HOME/config.toml`` (``wire_api =
    "responses"``, ``env_key``), plus ``model_catalog_json``: without catalog
    metadata for the model codex emits an ``error`` item "Model metadata for
    `<model>` not found" on every turn.  The catalog written here also
    replaces codex's 17 kB base instructions with one line.
    ``request_max_retries`` / ``stream_max_retries`` (provider keys) are set
    from ``max_retries``.  The config passes ``codex exec --strict-config``.
    codex prints "Refusing to create helper binaries under temporary dir" on
    stderr when CODEX_HOME is under /tmp: harmless.  ``codex exec`` reads
    stdin when it is not a TTY: run it with ``stdin=DEVNULL``.
opencode
    ``~/.config/opencode/opencode.json`` with a provider using the
    ``@ai-sdk/anthropic`` package, which opencode 1.18.33 BUNDLES (it works
    with the npm registry unreachable).  The only npm traffic opencode makes
    is a look-up of ``@opencode-ai/plugin`` (and its dependencies) on every
    start with a cold ``~/.npm`` cache; it is not needed, and
    ``npm_config_offline=true`` turns it off without any delay, so no cache
    has to be shared between tests.  XDG dirs point into the private home
    (opencode keeps its SQLite db in ``$XDG_DATA_HOME/opencode``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = [
    "API_KEY",
    "DEFAULT_MODEL",
    "OTHER_MODEL",
    "PROVIDER_CLI",
    "backends_bin_dir",
    "cli_environment",
    "cli_path",
    "scrub_environment",
]

PROVIDER_CLI = {"claude_code": "claude", "codex": "codex", "opencode": "opencode"}
DEFAULT_MODEL = "caw-scripted-1"
# A second model in codex's catalog and opencode's provider, for switching models in a test.
OTHER_MODEL = "caw-scripted-2"
API_KEY = "test-key"
PROVIDER_ID = "caw-scripted"

# Variables of the outer environment that could reach a real account or
# change where a CLI keeps its state.
_LEAKY_PREFIXES = (
    "ANTHROPIC_",
    "OPENAI_",
    "CODEX_",
    "OPENCODE_",
    "CLAUDE_",
    "CLAUDECODE",
    "AZURE_OPENAI",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "npm_config_",
    "NPM_CONFIG_",
)
_LEAKY_NAMES = {"CAW_SCRIPTED_API_KEY", "DISABLE_AUTOUPDATER", "IS_SANDBOX", "HOME"}


def backends_bin_dir() -> Path | None:
    """The ``node_modules/.bin`` of the pinned CLIs, or None.

    ``$CAW_BACKENDS_DIR/node_modules/.bin`` when that variable is set, else
    ``tests/backends/node_modules/.bin`` of the repository this file lives in.
    """
    candidates = []
    env_dir = os.environ.get("CAW_BACKENDS_DIR")
    if env_dir:
        candidates.append(Path(env_dir) / "node_modules" / ".bin")
    repo_root = Path(__file__).resolve().parents[2]
    candidates.append(repo_root / "tests" / "backends" / "node_modules" / ".bin")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def cli_path(provider: str) -> str | None:
    """The executable of ``provider``'s CLI: the pinned one if installed, else from PATH."""
    import shutil

    name = PROVIDER_CLI[_check_provider(provider)]
    bin_dir = backends_bin_dir()
    if bin_dir is not None and (bin_dir / name).exists():
        return str(bin_dir / name)
    return shutil.which(name)


def _check_provider(provider: str) -> str:
    if provider not in PROVIDER_CLI:
        raise ValueError(f"unknown provider {provider!r}; expected one of {sorted(PROVIDER_CLI)}")
    return provider


def scrub_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default ``os.environ``) without account, CLI-state and npm variables."""
    src = dict(os.environ if environ is None else environ)
    return {
        k: v
        for k, v in src.items()
        if k not in _LEAKY_NAMES and not any(k.startswith(p) for p in _LEAKY_PREFIXES)
    }


def cli_environment(
    provider: str,
    base_url: str,
    root: Path | str,
    *,
    model: str = DEFAULT_MODEL,
    max_retries: int | None = 0,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """A full environment for running ``provider``'s CLI against ``base_url``.

    provider:    "claude_code", "codex" or "opencode"
    base_url:    the scripted server's root, e.g. ``ScriptedModelServer().base_url``
                 (no ``/v1``)
    root:        a directory for the private home (``<root>/<provider>-home``)
    model:       the model name codex/opencode ask for (claude keeps its default name)
    max_retries: how often the CLI retries a failed model request; 0 (default) makes
                 error tests fast; None keeps the CLI's own default
    extra:       more variables to set last
    """
    _check_provider(provider)
    base_url = base_url.rstrip("/")
    home = Path(root).resolve() / f"{provider}-home"
    home.mkdir(parents=True, exist_ok=True)
    env = scrub_environment()
    bin_dir = backends_bin_dir()
    path = env.get("PATH", os.defpath)
    if bin_dir is not None:
        path = f"{bin_dir}{os.pathsep}{path}"
    env.update(
        HOME=str(home),
        PATH=path,
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        # No package look-ups from any CLI (opencode would otherwise ask npm
        # about @opencode-ai/plugin on every cold start).
        npm_config_offline="true",
        npm_config_update_notifier="false",
        NO_UPDATE_NOTIFIER="1",
    )
    if provider == "claude_code":
        env.update(
            ANTHROPIC_BASE_URL=base_url,
            ANTHROPIC_API_KEY=API_KEY,
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_AUTOUPDATER="1",
            DISABLE_TELEMETRY="1",
            DISABLE_ERROR_REPORTING="1",
            CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY="1",
            IS_SANDBOX="1",
        )
        if max_retries is not None:
            env["CLAUDE_CODE_MAX_RETRIES"] = str(max_retries)
    elif provider == "codex":
        codex_home = home / ".codex"
        codex_home.mkdir(parents=True, exist_ok=True)
        _write_codex_config(codex_home, base_url, model, max_retries)
        env.update(CODEX_HOME=str(codex_home), CAW_SCRIPTED_API_KEY=API_KEY)
    else:
        _write_opencode_config(home / ".config" / "opencode", base_url, model)
        env.update(
            OPENCODE_DISABLE_MODELS_FETCH="1",
            OPENCODE_DISABLE_AUTOUPDATE="1",
            OPENCODE_DISABLE_LSP_DOWNLOAD="1",
            OPENCODE_DISABLE_SHARE="1",
        )
    env.update(extra or {})
    return env


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _write_codex_config(
    codex_home: Path, base_url: str, model: str, max_retries: int | None
) -> None:
    catalog = codex_home / "caw-model-catalog.json"
    catalog.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "slug": name,
                        "display_name": name,
                        "description": "The caw scripted test model.",
                        "context_window": 200000,
                        "shell_type": "shell_command",
                        "visibility": "list",
                        "supported_in_api": True,
                        "priority": 1,
                        "supported_reasoning_levels": [
                            {"effort": "low", "description": "low"},
                            {"effort": "medium", "description": "medium"},
                        ],
                        "support_verbosity": False,
                        "truncation_policy": {"mode": "tokens", "limit": 10000},
                        "experimental_supported_tools": [],
                        "base_instructions": "You are the caw scripted test model.",
                    }
                    for name in dict.fromkeys([model, OTHER_MODEL])
                ]
            },
            indent=1,
        )
    )
    retries = ""
    if max_retries is not None:
        retries = (
            f"request_max_retries = {int(max_retries)}\nstream_max_retries = {int(max_retries)}\n"
        )
    config = (
        f"model = {_toml_str(model)}\n"
        f"model_provider = {_toml_str(PROVIDER_ID)}\n"
        f"model_catalog_json = {_toml_str(str(catalog))}\n"
        'approval_policy = "never"\n'
        'sandbox_mode = "danger-full-access"\n'
        'web_search = "disabled"\n'
        "check_for_update_on_startup = false\n"
        "\n"
        f"[model_providers.{PROVIDER_ID}]\n"
        'name = "caw scripted model"\n'
        f"base_url = {_toml_str(base_url + '/v1')}\n"
        'wire_api = "responses"\n'
        'env_key = "CAW_SCRIPTED_API_KEY"\n'
        f"{retries}"
        "\n[analytics]\nenabled = false\n"
        "\n[feedback]\nenabled = false\n"
    )
    (codex_home / "config.toml").write_text(config)


def _write_opencode_config(config_dir: Path, base_url: str, model: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "$schema": "https://opencode.ai/config.json",
        "model": f"{PROVIDER_ID}/{model}",
        "small_model": f"{PROVIDER_ID}/{model}",
        "autoupdate": False,
        "share": "disabled",
        "provider": {
            PROVIDER_ID: {
                "npm": "@ai-sdk/anthropic",
                "name": "caw scripted model",
                "options": {"baseURL": base_url + "/v1", "apiKey": API_KEY},
                "models": {
                    name: {
                        "name": name,
                        "tool_call": True,
                        "reasoning": False,
                        "limit": {"context": 200000, "output": 8192},
                        # USD per million tokens, so opencode reports a cost as it does for
                        # the models it knows (tests check costUsd for every provider)
                        "cost": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75},
                    }
                    for name in dict.fromkeys([model, OTHER_MODEL])
                },
            }
        },
    }
    (config_dir / "opencode.json").write_text(json.dumps(config, indent=2))
