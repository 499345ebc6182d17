"""What ``pricing:`` declares: what an LLM's tokens cost, per provider and model, so that spans without a
cost of their own get one (``vigil.otlp``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from vigil.spec.fields import Section

__all__ = ["Price", "PricingSettings"]

Usd = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Price(Section):
    """USD per million tokens: ``input``, ``output``, and ``cached_input`` (input tokens read from the
    provider's prompt cache; ``input``'s price when not given)."""

    input: Usd
    output: Usd
    cached_input: Usd | None = None


class PricingSettings(Section):
    """``pricing: {version: "2026-12", models: {openai/gpt-4o: {input: 2.5, output: 10}}}``: each key is
    ``provider/model`` or a model alone. ``version`` names the table: each event priced by it carries it
    as its ``pricing`` segment, so every window says which table its costs came from."""

    version: Annotated[str, StringConstraints(min_length=1, max_length=100)] = "1"
    models: dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], Price] = Field(
        default_factory=dict
    )

    def price(self, provider: str | None, *models: str | None) -> Price | None:
        """The price of the first of ``models`` the table names, as ``provider/model`` or alone."""
        for model in models:
            if not model:
                continue
            found = self.models.get(f"{provider}/{model}") if provider else None
            found = found or self.models.get(model)
            if found is not None:
                return found
        return None

    def cost(
        self,
        provider: str | None,
        models: tuple[str | None, ...],
        tokens_in: int,
        tokens_out: int,
        cached: int,
    ) -> float | None:
        """USD for one call: ``cached`` of the ``tokens_in`` at the cached price; None when unpriced."""
        p = self.price(provider, *models)
        if p is None:
            return None
        cached = min(max(cached, 0), tokens_in)
        rate = p.cached_input if p.cached_input is not None else p.input
        return ((tokens_in - cached) * p.input + cached * rate + tokens_out * p.output) / 1e6
