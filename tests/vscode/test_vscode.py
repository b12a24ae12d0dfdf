"""The VS Code client (clients/vscode): its whole test run, from pytest.

Runs, in order: the protocol-types staleness check, strict type checking,
ESLint, the build, the unit tests (node's test runner), the protocol client
against the real caw-server, `vsce package` (the .vsix), and the end-to-end
tests inside a real VS Code (code-server 4.99.4 + headless chromium) with the
real daemon, the real claude CLI and caw's scripted model server.

The toolchain comes from ``clients/vscode/scripts/install-e2e.sh`` (npm ci,
Debian's chromium, code-server). Without it these tests skip, except under CI
(``CI`` set), where they fail. Screenshots are kept in test-output/vscode/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXT = REPO / "clients" / "vscode"
VSIX = EXT / "dist" / "caw-vscode.vsix"
CAW_E2E_HOME = Path(os.environ.get("CAW_E2E_HOME", Path.home() / ".cache" / "caw-e2e"))
CODE_SERVER = Path(
    os.environ.get(
        "CAW_E2E_CODE_SERVER",
        CAW_E2E_HOME / "code-server-4.99.4" / "node_modules" / ".bin" / "code-server",
    )
)
CHROMIUM = os.environ.get("CAW_E2E_CHROMIUM", "/usr/bin/chromium")
INSTALL = "clients/vscode/scripts/install-e2e.sh"


def _missing() -> list[str]:
    missing = []
    if not shutil.which("node") or not shutil.which("npm"):
        missing.append("node and npm")
    if not (EXT / "node_modules" / ".bin" / "esbuild").exists():
        missing.append("the extension's node_modules")
    if not CODE_SERVER.exists():
        missing.append(f"code-server ({CODE_SERVER})")
    if not Path(CHROMIUM).exists():
        missing.append(f"chromium ({CHROMIUM})")
    return missing


_MISSING = _missing()
if _MISSING:
    reason = f"VS Code toolchain missing: {', '.join(_MISSING)}; run {INSTALL}"
    if os.environ.get("CI"):
        raise RuntimeError(reason)  # in CI a missing toolchain is a failure, not a skip
    pytest.skip(reason, allow_module_level=True)


def _env() -> dict[str, str]:
    venv_bin = Path(sys.executable).parent
    return {
        **os.environ,
        "CAW_PYTHON": sys.executable,
        "CAW_SERVER": str(venv_bin / "caw-server"),
        "CAW_E2E_CODE_SERVER": str(CODE_SERVER),
        "CAW_E2E_CHROMIUM": CHROMIUM,
        "npm_config_update_notifier": "false",
    }


def run(*cmd: str, timeout: float) -> str:
    """Runs ``cmd`` in clients/vscode; its whole output is the failure message."""
    proc = subprocess.run(
        cmd, cwd=EXT, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=timeout, start_new_session=True,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-20000:]}"
    )
    return proc.stdout


def node_tests(*files: str, timeout: float) -> None:
    out = run(
        "node", "--test", "--test-concurrency=1", "--test-reporter=spec", *files, timeout=timeout
    )
    print(out[-3000:])


@pytest.fixture(scope="module")
def built() -> None:
    run("node", "scripts/build.mjs", timeout=120)


def test_protocol_types_are_current():
    run("node", "scripts/gen-protocol.mjs", "--check", timeout=60)


def test_typecheck():
    run("npx", "--no-install", "tsc", "-p", ".", timeout=180)
    run("npx", "--no-install", "tsc", "-p", "src/webview", timeout=180)


def test_lint():
    run("npx", "--no-install", "eslint", ".", timeout=180)


def test_unit(built):
    node_tests(
        "out/test/unit/chatStore.test.js",
        "out/test/unit/chatModel.test.js",
        "out/test/unit/serverPath.test.js",
        "out/test/unit/permissions.test.js",
        "out/test/unit/selection.test.js",
        "out/test/unit/installHint.test.js",
        "out/test/unit/trust.test.js",
        "out/test/unit/health.test.js",
        timeout=120,
    )


@pytest.mark.e2e
def test_protocol_client_against_caw_server(built):
    node_tests("out/test/unit/rpc.test.js", timeout=300)


def test_package_vsix(built):
    VSIX.unlink(missing_ok=True)
    run("npm", "run", "package", timeout=180)
    with zipfile.ZipFile(VSIX) as z:
        names = set(z.namelist())
    for needed in (
        "extension/package.json",
        "extension/dist/extension.js",
        "extension/dist/webview.js",
        "extension/media/chat.css",
        "extension/readme.md",
    ):
        assert needed in names, f"{needed} missing from the .vsix: {sorted(names)}"
    assert not any(
        n.startswith(("extension/src/", "extension/node_modules/", "extension/test")) for n in names
    ), sorted(names)


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_end_to_end_in_code_server(built):
    if not VSIX.exists():
        run("npm", "run", "package", timeout=180)
    node_tests("out/test/e2e/vscode.e2e.test.js", timeout=840)
