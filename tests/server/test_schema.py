"""protocol/caw.schema.json is generated from the wire models and must be up to date; the spec names everything."""

from __future__ import annotations

import json
import subprocess
import sys

from caw.events import EVENT_TYPES
from caw_server import schema, wire

from .conftest import REPO


def test_checked_in_schema_is_fresh():
    assert schema.SCHEMA_PATH.read_text(encoding="utf-8") == schema.render(), (
        "protocol/caw.schema.json is stale: run `python -m caw_server.schema --write` (or `make schema`)"
    )


def test_check_command_reports_staleness():
    ok = subprocess.run(
        [sys.executable, "-m", "caw_server.schema", "--check"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr


def test_schema_covers_every_method_notification_and_error():
    document = json.loads(schema.render())
    assert set(document["x-methods"]) == set(wire.METHODS)
    assert set(document["x-notifications"]) == set(wire.NOTIFICATIONS)
    assert {e["kind"] for e in document["x-errors"]} == set(wire.ERRORS)
    update = document["$defs"]["SessionUpdate"]["properties"]["update"]
    assert set(update["discriminator"]["mapping"]) == {
        event.model_fields["kind"].default for event in EVENT_TYPES
    }
    for entry in document["x-methods"].values():  # every reference resolves
        for part in ("params", "result"):
            ref = entry[part].get("$ref")
            assert ref is None or ref.removeprefix("#/$defs/") in document["$defs"]


def test_the_spec_documents_every_method_and_error_code():
    spec = (REPO / "protocol" / "README.md").read_text(encoding="utf-8")
    for method in [*wire.METHODS, *wire.NOTIFICATIONS]:
        assert f"`{method}`" in spec, method
    for kind, (code, _) in wire.ERRORS.items():
        assert f"| {code} | `{kind}` |" in spec, kind
