"""The VS Code client asks before tools run: its permission e2e test inside a real VS Code
(code-server 4.99.4 + headless chromium), with the real daemon, the real claude, codex and
opencode CLIs and caw's scripted model server (clients/vscode/test/e2e/permissions.e2e.test.ts).

The card's option mapping and the workspace rule store are unit-tested in
test_vscode.py::test_unit (out/test/unit/permissions.test.js).
"""

from __future__ import annotations

import pytest

from .test_vscode import built as built
from .test_vscode import node_tests


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_permission_cards_in_code_server(built):
    node_tests("out/test/e2e/permissions.e2e.test.js", timeout=840)
