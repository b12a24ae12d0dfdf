"""What a turn cost when its CLI does not say: token counts times a pricing table.

claude and opencode report each turn's cost; codex reports none, and claude's first turn after
a resume has no earlier total to subtract from. The table ships as ``caw/data/pricing.json``
(USD per million tokens, dated: :data:`PRICING_DATE`). Users override or extend it, model by
model, with a ``"pricing"`` object of the same shape in caw's config file (``caw config path``)
or a JSON file named by ``CAW_PRICING_FILE`` (which wins). A model the table does not know is
priced as its provider's ``default`` model: an estimate, never a free turn.

``{"providers": {"codex": {"default": "gpt-5-codex",
                           "models": {"gpt-5-codex": {"input": 1.25, "output": 10.0,
                                                      "cache_read": 0.125}}}}}``
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .models import Usage

PRICING_ENV = "CAW_PRICING_FILE"


class PricingError(ValueError):
    """A pricing override is not valid; the message names the file."""


class Price(BaseModel):
    """USD per million tokens. Cache writes cost input price unless the table says."""

    model_config = ConfigDict(extra="forbid")
    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        per_token = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * (self.input if self.cache_read is None else self.cache_read)
            + usage.cache_write_tokens
            * (self.input if self.cache_write is None else self.cache_write)
        )
        return per_token / 1_000_000


class ProviderPrices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: str | None = None
    models: dict[str, Price] = {}


class PricingTable(BaseModel):
    model_config = ConfigDict(extra="ignore")
    date: str | None = None
    providers: dict[str, ProviderPrices] = {}

    def merged(self, override: PricingTable) -> PricingTable:
        providers = dict(self.providers)
        for name, theirs in override.providers.items():
            ours = providers.get(name, ProviderPrices())
            providers[name] = ProviderPrices(
                default=theirs.default or ours.default, models={**ours.models, **theirs.models}
            )
        return PricingTable(date=override.date or self.date, providers=providers)

    def price(self, provider: str, model: str | None) -> Price | None:
        """The price of ``model`` (exact name, else the longest known prefix, so dated names
        like ``claude-sonnet-4-5-20250929`` match), else the provider's default model's."""
        table = self.providers.get(provider)
        if table is None:
            return None
        name = (model or "").rsplit("/", 1)[-1]  # opencode-style "openai/gpt-5"
        if name in table.models:
            return table.models[name]
        prefixes = [known for known in table.models if name.startswith(known)]
        if prefixes:
            return table.models[max(prefixes, key=len)]
        return table.models.get(table.default or "")


@cache
def shipped_table() -> PricingTable:
    text = resources.files("caw").joinpath("data/pricing.json").read_text(encoding="utf-8")
    return PricingTable.model_validate_json(text)


PRICING_DATE: str = shipped_table().date or ""


def _override_file() -> PricingTable | None:
    path = os.environ.get(PRICING_ENV, "").strip()
    if not path:
        return None
    try:
        return PricingTable.model_validate(json.loads(Path(path).expanduser().read_text("utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise PricingError(f"cannot read the pricing file {path} ({PRICING_ENV}): {exc}") from None


def _override_config() -> PricingTable | None:
    from . import user_config

    data: Any = user_config.load().get("pricing")
    if data is None:
        return None
    try:
        return PricingTable.model_validate(data)
    except ValidationError as exc:
        raise PricingError(
            f"the 'pricing' object in {user_config.config_path()} is not valid: {exc}"
        ) from None


def pricing_table() -> PricingTable:
    """The shipped table with the user's overrides (config file, then ``CAW_PRICING_FILE``)."""
    table = shipped_table()
    for override in (_override_config(), _override_file()):
        if override is not None:
            table = table.merged(override)
    return table


def estimate_cost(provider: str, model: str | None, usage: Usage) -> float | None:
    """The cost of ``usage`` on ``provider``'s ``model`` by the pricing table; None when the
    provider has no prices at all."""
    price = pricing_table().price(provider, model)
    return None if price is None else price.cost(usage)
