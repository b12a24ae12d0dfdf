"""Shared fixtures, and the hypothesis profiles every property test runs under.

Profiles (registered here, once, for the whole suite):

- ``ci`` (the default, what ``make test`` runs): a fixed, derandomized set of examples, the
  same every run and on every machine; no example database, so a fresh clone and a
  reused work tree draw alike.
- ``long``: the random search, 20,000 draws per property test (``CAW_FUZZ_EXAMPLES``
  overrides the count). Pick it with ``--hypothesis-profile=long`` or ``CAW_FUZZ=long``.

A failure prints its ``@reproduce_failure`` blob, so a random find can be replayed and then
pinned as an ``@example``.
"""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["caw.testing.fixtures", "tests.reliability.report_hooks"]

PROVIDERS = ["claude_code", "codex", "opencode"]

# The property tests drive a real daemon: a draw's time is the daemon's, not the strategy's,
# so the deadline and the too-slow/filter health checks would only report a busy machine.
_PROPERTY = settings(
    deadline=None, suppress_health_check=list(HealthCheck), database=None, print_blob=True
)
settings.register_profile("ci", _PROPERTY, max_examples=250, derandomize=True)
settings.register_profile(
    "long", _PROPERTY, max_examples=int(os.environ.get("CAW_FUZZ_EXAMPLES", "20000"))
)
# --hypothesis-profile (hypothesis' pytest plugin) loads after this and wins.
settings.load_profile(os.environ.get("CAW_FUZZ", "ci"))


@pytest.fixture(params=PROVIDERS)
def provider(request) -> str:
    """Each provider test runs once per backend CLI."""
    return request.param


@pytest.fixture(autouse=True, scope="session")
def _private_trust_store(tmp_path_factory) -> Iterator[None]:
    """No test reads or writes the user's own trust store (caw.trust_store): a trusted=True
    would record the test's folder there. One store for the run, not one per test: the
    environment decides which sessions share a backend server, and a module's shared serve
    must see the same environment in each of its tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAW_TRUST_FILE", str(tmp_path_factory.mktemp("trust") / "trust.json"))
        yield
