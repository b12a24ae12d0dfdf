"""caw.redact: the one place keys, handles and credentials are hidden."""

from __future__ import annotations

import json
import logging

from caw.errors import BackendFailed
from caw.redact import RedactFilter, hide_environment, hide_key, redact

KEY = "019a0c1e-5b2f-7c10-8d3e-4f5a6b7c8d9e"


def test_a_registered_key_is_hidden_everywhere_it_appears():
    hide_key(KEY, "another-session-id")
    assert redact(f"thread {KEY} failed; see {KEY}.jsonl") == (
        "thread <resume key> failed; see <resume key>.jsonl"
    )


def test_a_key_equal_to_its_session_id_and_short_strings_are_not_secrets():
    hide_key("11111111-2222-3333-4444-555555555555", "11111111-2222-3333-4444-555555555555")
    hide_key("short")
    hide_key(None)
    text = "session 11111111-2222-3333-4444-555555555555 said short"
    assert redact(text) == text


def test_secret_shapes_are_hidden_without_registration():
    handle = json.dumps(
        {"provider": "codex", "session_id": "s", "resume_key": "never-registered-1"}
    )
    assert "never-registered-1" not in redact(f"bad handle {handle}")
    assert "never-registered-1" not in redact(json.dumps({"log": handle}))  # JSON-escaped
    wire = json.dumps({"resumeHandle": handle})
    assert redact(wire) == '{"resumeHandle": "<resume handle>"}'
    assert redact("GET /session/ses_0123456789abcdefABCDEF") == "GET /session/<resume key>"
    assert redact("key sk-ant-api03-abcdefghijklmnopqrstuv rejected") == "key <credential> rejected"


def test_credentials_in_a_child_environment_are_hidden_by_name():
    hide_environment(
        {
            "OPENCODE_SERVER_PASSWORD": "pw-9f8e7d6c5b4a",
            "MY_API_KEY": "k-0123456789",
            "HOME": "/home/someone",
        }
    )
    assert redact("auth pw-9f8e7d6c5b4a k-0123456789 /home/someone") == (
        "auth <credential> <credential> /home/someone"
    )


def test_backend_failed_redacts_its_message_and_stderr_tail():
    hide_key("0199bb00-error-key")
    error = BackendFailed("resume 0199bb00-error-key: no rollout", stderr_tail="0199bb00-error-key")
    assert "0199bb00-error-key" not in str(error) and error.stderr_tail == "<resume key>"


def test_the_log_filter_redacts_message_arguments_and_tracebacks():
    hide_key("0199cc00-log-key")
    try:
        raise RuntimeError("while resuming 0199cc00-log-key")
    except RuntimeError:
        record = logging.LogRecord(
            "caw", logging.ERROR, __file__, 1, "resume %s", ("0199cc00-log-key",), None
        )
        import sys

        record.exc_info = sys.exc_info()
    assert RedactFilter().filter(record)
    assert record.getMessage() == "resume <resume key>"
    assert record.exc_text and "0199cc00-log-key" not in record.exc_text
