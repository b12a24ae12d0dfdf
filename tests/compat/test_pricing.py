"""caw's pricing table: the cost of a turn whose CLI reports none (codex; claude's first turn
after a resume), and the user's overrides."""

from __future__ import annotations

import json

import pytest

from caw import pricing
from caw.models import Usage

TURN = Usage(input_tokens=2_000, output_tokens=500, cache_read_tokens=10_000, cache_write_tokens=0)


@pytest.fixture(autouse=True)
def no_user_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("CAW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(pricing.PRICING_ENV, raising=False)


def test_the_shipped_table_is_dated():
    assert pricing.shipped_table().date == pricing.PRICING_DATE
    assert len(pricing.PRICING_DATE) == 10  # YYYY-MM-DD


def test_a_known_model_is_priced_by_its_tokens():
    cost = pricing.estimate_cost("codex", "gpt-5-codex", TURN)
    assert cost == pytest.approx((2_000 * 1.25 + 500 * 10.0 + 10_000 * 0.125) / 1e6)


def test_a_dated_model_name_matches_its_longest_known_prefix():
    sonnet = pricing.estimate_cost("claude_code", "claude-sonnet-4-5-20250929", TURN)
    assert sonnet == pricing.estimate_cost("claude_code", "claude-sonnet-4-5", TURN)
    mini = pricing.estimate_cost("codex", "gpt-5.1-codex-mini-2026", TURN)
    assert mini == pricing.estimate_cost("codex", "gpt-5.1-codex-mini", TURN)
    assert mini != pricing.estimate_cost("codex", "gpt-5.1-codex", TURN)


def test_an_unknown_or_unset_model_is_priced_as_the_providers_default():
    default = pricing.estimate_cost("codex", "gpt-5-codex", TURN)
    assert pricing.estimate_cost("codex", "some-new-model", TURN) == default
    assert pricing.estimate_cost("codex", None, TURN) == default


def test_a_provider_without_prices_has_no_estimate():
    assert pricing.estimate_cost("opencode", "openai/gpt-5", TURN) is None


def test_the_config_file_overrides_a_model(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    price = {"input": 100.0, "output": 0.0, "cache_read": 0.0}
    config = {"models": {}, "pricing": {"providers": {"codex": {"models": {"gpt-5-codex": price}}}}}
    (home / "config.json").write_text(json.dumps(config))
    assert pricing.estimate_cost("codex", "gpt-5-codex", TURN) == pytest.approx(0.2)
    # the rest of the shipped table is kept
    assert pricing.estimate_cost("codex", "gpt-5-mini", TURN) == pytest.approx(
        (2_000 * 0.25 + 500 * 2.0 + 10_000 * 0.025) / 1e6
    )


def test_the_pricing_file_overrides_the_config_and_adds_a_provider(tmp_path, monkeypatch):
    table = {
        "date": "2027-01-01",
        "providers": {"opencode": {"default": "x", "models": {"x": {"input": 1e6, "output": 0}}}},
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    monkeypatch.setenv(pricing.PRICING_ENV, str(path))
    assert pricing.estimate_cost("opencode", "anything", Usage(input_tokens=3)) == 3.0
    assert pricing.pricing_table().date == "2027-01-01"


def test_a_bad_pricing_file_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "prices.json"
    path.write_text('{"providers": {"codex": {"models": {"m": {"input": "free"}}}}}')
    monkeypatch.setenv(pricing.PRICING_ENV, str(path))
    with pytest.raises(pricing.PricingError, match=r"prices\.json"):
        pricing.estimate_cost("codex", "m", TURN)


@pytest.mark.e2e
def test_a_codex_turn_through_the_real_cli_gets_a_cost(cli_env, scripted):
    from caw import Agent

    with Agent("codex", env=cli_env("codex")).start_session() as session:
        session.send("Repeat after me: priced")
        usage = session.trajectory.total_usage
    assert usage.input_tokens + usage.cache_read_tokens > 0 and usage.output_tokens > 0
    assert usage.cost_usd == pytest.approx(pricing.estimate_cost("codex", None, usage))
    assert usage.cost_usd is not None and usage.cost_usd > 0


@pytest.mark.e2e
def test_claudes_first_turn_after_a_resume_gets_a_cost(cli_env, scripted, tmp_path):
    from caw import Agent

    agent = Agent("claude", tmp_path / "data", env=cli_env("claude_code"))
    with agent.start_session() as session:
        session.send("My pet is a cat.")
        handle = session.resume_handle
    with agent.resume_session(handle) as resumed:
        resumed.send("What is my pet?")
        turn = resumed.trajectory.turns[-1]
    assert turn.result == "a cat"
    assert turn.usage.cost_usd == pytest.approx(
        pricing.estimate_cost("claude_code", None, turn.usage)
    )


def test_caw_config_pricing_shows_the_table_its_date_and_overrides(tmp_path, monkeypatch, capsys):
    from caw.cli import main

    assert main(["config", "pricing"]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith(f"caw's pricing table of {pricing.PRICING_DATE}") and "overridden" not in out
    )
    assert any(
        line.startswith("codex") and "gpt-5-codex (default)" in line for line in out.splitlines()
    )
    path = tmp_path / "prices.json"
    path.write_text('{"providers": {"codex": {"models": {"mine": {"input": 9, "output": 9}}}}}')
    monkeypatch.setenv(pricing.PRICING_ENV, str(path))
    assert main(["config", "pricing"]) == 0
    out = capsys.readouterr().out
    assert f"overridden by ${pricing.PRICING_ENV}" in out and "mine" in out
