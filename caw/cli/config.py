"""``caw config``: the model each tier means per provider (list, get, set, unset, path), and
the pricing table caw estimates costs with (pricing)."""

from __future__ import annotations

import argparse
import os

from ..pricing import PRICING_DATE, PRICING_ENV, pricing_table
from ..providers import PROVIDER_NAMES
from ..tiers import DEFAULT_MODELS, ENV_OVERRIDES, ModelTier, tier_model
from ..user_config import config_path, load, set_tier_model, unset_tier_model


def _source(provider: str, tier: ModelTier) -> str:
    variable = ENV_OVERRIDES.get(provider, {}).get(tier)
    if variable and os.environ.get(variable, "").strip():
        return f"${variable}"
    if load().get("models", {}).get(provider, {}).get(tier.value):
        return "config"
    return "default" if DEFAULT_MODELS.get(provider, {}).get(tier) else "the CLI's default"


def _pricing() -> None:
    """The prices caw estimates a turn's cost with (when the CLI reports none), and from where."""
    table = pricing_table()
    overrides = [str(config_path())] if "pricing" in load() else []
    if os.environ.get(PRICING_ENV, "").strip():
        overrides.append(f"${PRICING_ENV}")
    print(f"caw's pricing table of {PRICING_DATE}, USD per million tokens", end="")
    print(f"; overridden by {', '.join(overrides)}" if overrides else "")
    for provider, prices in table.providers.items():
        for model, price in prices.models.items():
            mark = " (default)" if model == prices.default else ""
            cached = "-" if price.cache_read is None else f"{price.cache_read:g}"
            print(
                f"{provider:<12} {model + mark:<30} in {price.input:<7g} out {price.output:<7g} "
                f"cached {cached}"
            )


def config(args: argparse.Namespace) -> int:
    action = args.action
    if action == "path":
        print(config_path())
        return 0
    if action == "pricing":
        _pricing()
        return 0
    if action == "list":
        for provider in PROVIDER_NAMES:
            for tier in ModelTier:
                model = tier_model(provider, tier) or "-"
                print(f"{provider:<12} {tier.value:<10} {model:<28} ({_source(provider, tier)})")
        return 0
    provider, tier = args.provider, ModelTier(args.tier)
    if action == "get":
        print(tier_model(provider, tier) or "-")
    elif action == "set":
        set_tier_model(provider, tier, args.model)
    elif action == "unset" and not unset_tier_model(provider, tier):
        print(f"{provider} {tier.value} was not set in {config_path()}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="the model each tier (strongest, fast) means per provider")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="the model of every provider and tier, and where it comes from")
    actions.add_parser("path", help="where the config file is")
    actions.add_parser(
        "pricing",
        help="the prices a turn's cost is estimated with when the CLI reports none "
        f"(override: a 'pricing' object in the config file, or ${PRICING_ENV})",
    )
    tiers = [t.value for t in ModelTier]
    for name, text in (
        ("get", "one tier's model"),
        ("set", "set a tier's model"),
        ("unset", "back to the default"),
    ):
        a = actions.add_parser(name, help=text)
        a.add_argument("provider", choices=[*PROVIDER_NAMES, "claude", "cc"])
        a.add_argument("tier", choices=tiers)
        if name == "set":
            a.add_argument("model")
    p.set_defaults(func=config)
