"""VS Code's Restricted Mode (workspace trust) with the caw extension, inside a real VS Code
(code-server 4.99.4 + headless chromium), with the real daemon, the real claude CLI and caw's
scripted model server (clients/vscode/test/e2e/trust.e2e.test.ts): in an untrusted folder VS Code
keeps the extension off (it declares no ``capabilities.untrustedWorkspaces``), so no caw command,
no daemon or CLI process and not the folder's own ``caw.serverPath``; trusting the folder through
VS Code's Workspace Trust editor brings it up without a reload and a chat answers.

The trust decisions for the daemon's untrustedWorkspace question are unit-tested in
test_vscode.py::test_unit (out/test/unit/trust.test.js).
"""

from __future__ import annotations

import pytest

from .test_vscode import VSIX, node_tests, run
from .test_vscode import built as built


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_restricted_mode_in_code_server(built):
    if not VSIX.exists():  # the window runs the extension installed from it
        run("npm", "run", "package", timeout=180)
    node_tests("out/test/e2e/trust.e2e.test.js", timeout=240)
