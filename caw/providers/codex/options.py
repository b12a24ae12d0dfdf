"""What codex is given: the binary behind npm's wrapper, thread params, config values, approval answers."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping
from typing import Any

from ...tools.groups import ToolGroup
from ...tools.wiring import codex_config
from ..base import ConversationOptions
from ..jsonrpc_lines import RpcError

MODE_ENV = "CAW_CODEX_MODE"  # "exec" forces the per-turn fallback; "app-server" forbids it

# (sys.platform, machine) -> (target triple, npm platform package), as npm's codex.js computes them.
_NPM_TARGETS = {
    ("linux", "x86_64"): ("x86_64-unknown-linux-musl", "codex-linux-x64"),
    ("linux", "aarch64"): ("aarch64-unknown-linux-musl", "codex-linux-arm64"),
    ("darwin", "x86_64"): ("x86_64-apple-darwin", "codex-darwin-x64"),
    ("darwin", "arm64"): ("aarch64-apple-darwin", "codex-darwin-arm64"),
}


def native_cli(cli: str) -> tuple[str, dict[str, str]]:
    """The native binary behind npm's ``codex.js`` wrapper, and the env the wrapper would add.

    On Node < 22 the wrapper runs the binary as its child, which a SIGKILL of caw
    would orphan; running the binary directly keeps it in caw's supervision.
    Anything else (or a layout we do not recognise) is used as it is.
    """
    real = os.path.realpath(cli)
    if not real.endswith(os.path.join("bin", "codex.js")):
        return cli, {}
    package = os.path.dirname(os.path.dirname(real))
    target = _NPM_TARGETS.get((sys.platform, platform.machine()))
    if target is None:
        return cli, {}
    triple, platform_package = target
    for vendor in (
        os.path.join(package, "node_modules", "@openai", platform_package, "vendor"),
        os.path.join(os.path.dirname(package), platform_package, "vendor"),
        os.path.join(package, "vendor"),
    ):
        binary = os.path.join(vendor, triple, "bin", "codex")
        if os.access(binary, os.X_OK):
            return binary, {"CODEX_MANAGED_PACKAGE_ROOT": package, "CODEX_MANAGED_BY_NPM": "1"}
    return cli, {}


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string, for ``-c key=value`` (else codex parses it as TOML)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def thread_params(options: ConversationOptions) -> dict[str, Any]:
    """What thread/start and thread/resume share: cwd, permissions, model, instructions."""
    mode = options.permission_mode
    params: dict[str, Any] = {
        "cwd": options.cwd,
        # deny: codex asks before anything outside a read-only sandbox, and caw declines.
        # ask: codex asks before every command it does not know to be read-only and every
        # file change; what the user allows runs as it would without caw.
        "approvalPolicy": "never" if mode == "bypass" else "untrusted",
        "sandbox": "read-only" if mode == "deny" else "danger-full-access",
    }
    if options.model:
        params["model"] = options.model
    if options.system_prompt:
        # Added as developer instructions, so codex keeps its own instructions for its tools.
        params["developerInstructions"] = options.system_prompt
    config: dict[str, Any] = {}
    if options.tools is not None and ToolGroup.WRITER not in options.tools:
        params["sandbox"] = "read-only"  # commands run but cannot write (caw.tools.groups)
    if options.tools is not None and ToolGroup.WEB not in options.tools:
        config["web_search"] = "disabled"
    if options.reasoning:
        config["model_reasoning_effort"] = options.reasoning
    if options.mcp_servers:  # on stdin, so header and env values may travel here
        config["mcp_servers"] = codex_config(options.mcp_servers)
    if config:
        params["config"] = config
    return params


def approval_answer(method: str, params: Mapping[str, Any], permission_mode: str) -> Any:
    """The answer to a server request, headless: allow everything (bypass) or nothing (deny)."""
    allow = permission_mode == "bypass"
    if method in ("item/commandExecution/requestApproval", "item/fileChange/requestApproval"):
        return {"decision": "accept" if allow else "decline"}
    if method in ("execCommandApproval", "applyPatchApproval"):  # the v1 forms
        return {
            "decision": "approved"
            if allow
            else {"denied": {"rejection": "caw's permission mode is deny"}}
        }
    if method == "item/permissions/requestApproval":
        return {"permissions": (params.get("permissions") or {}) if allow else {}, "scope": "turn"}
    if method == "item/tool/requestUserInput":
        return {"answers": {}}
    if method == "mcpServer/elicitation/request":
        return {"action": "decline"}
    raise RpcError(-32601, f"caw does not handle {method}")
