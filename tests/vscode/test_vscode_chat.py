"""The VS Code chat of issue 17 inside a real VS Code (code-server 4.99.4 + headless chromium),
with the real daemon, the real claude, codex and opencode CLIs and caw's scripted model server
(clients/vscode/test/e2e/chat.e2e.test.ts): the trust prompt, keyboard-only use, Esc,
code-block Copy/Insert, tokens and cost, @ attachments reaching the model, an edit shown as a
diff and reverted on disk, a failed turn shown once and after a restart, a model switch reaching
the model server, two chats resumed after a restart, an opencode chat streamed and resumed with
its conversation after a restart. Screenshots in test-output/vscode/.

The pure parts (selection label, install hint, trust decisions, usage totals) are unit-tested in
test_vscode.py::test_unit.
"""

from __future__ import annotations

import pytest

from .test_vscode import VSIX, node_tests, run
from .test_vscode import built as built


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_chat_in_code_server(built):
    if not VSIX.exists():  # the windows run the extension installed from it
        run("npm", "run", "package", timeout=180)
    node_tests("out/test/e2e/chat.e2e.test.js", timeout=840)


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_usage_limit_in_code_server(built):
    """Auto-wait in the chat (clients/vscode/test/e2e/usageLimit.e2e.test.ts): the waiting line
    with the local reset time, Esc ends the wait; with caw.autoWait off the failure names it."""
    if not VSIX.exists():
        run("npm", "run", "package", timeout=180)
    node_tests("out/test/e2e/usageLimit.e2e.test.js", timeout=540)
