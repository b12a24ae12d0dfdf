import pytest

pytest_plugins = ["caw.testing.fixtures"]

PROVIDERS = ["claude_code", "codex", "opencode"]


@pytest.fixture(params=PROVIDERS)
def provider(request) -> str:
    """Each provider test runs once per backend CLI."""
    return request.param
