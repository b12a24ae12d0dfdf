"""The daemon's permission settings, in process: flags, initializationOptions, their checks."""

from __future__ import annotations

from caw_server.options import from_args
from tests.server.conftest import daemon as daemon  # the in-process daemon fixture
from tests.server.inprocess import Daemon


def test_the_flag_defaults_to_ask_and_bypass_must_be_chosen() -> None:
    assert from_args([]).permission_mode == "ask"
    chosen = from_args(["--permission-mode", "bypass", "--permission-timeout", "9"])
    assert (chosen.permission_mode, chosen.permission_timeout) == ("bypass", 9.0)


async def test_initialization_options_set_mode_timeout_and_whether_the_client_answers(
    daemon: Daemon,
):
    assert not daemon.server.permissions.can_answer  # nothing declared: never asked
    bad = await daemon.request(
        "initialize",
        {"processId": None, "capabilities": {}, "initializationOptions": {"permissionMode": "yes"}},
    )
    assert bad["error"]["data"]["errors"][0]["field"] == "initializationOptions.permissionMode"
    options = {
        "permissionMode": "deny",
        "permissionTimeout": 7,
        "clientCapabilities": {"permissions": True},
    }
    answer = await daemon.request(
        "initialize", {"processId": None, "capabilities": {}, "initializationOptions": options}
    )
    assert "result" in answer
    assert daemon.server.options.permission_mode == "deny"
    assert daemon.server.permissions.timeout == 7 and daemon.server.permissions.can_answer
