"""Settings of the OpenAI-compatible actor: the API, its key, its budget, its prices."""

from __future__ import annotations

import math
from typing import Any

import attrs

from actors.connectors import ApiSettings
from messages import non_negative_seconds, positive_number


def _price(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name}: expected a price >= 0 (USD per million tokens), "
                         f"got {value!r}")


@attrs.frozen(kw_only=True)
class Price:
    """What a model costs, in USD per million tokens read (``prompt``) and written
    (``completion``)."""

    prompt: float = attrs.field(default=0.0, validator=_price)
    completion: float = attrs.field(default=0.0, validator=_price)


@attrs.frozen(kw_only=True)
class OpenAISettings(ApiSettings):
    """An OpenAI-compatible API (OpenAI itself, or any server that speaks its wire format —
    vLLM, llama.cpp, Ollama, LiteLLM — through ``base_url``).

    ``model`` is used when an ask names none. ``prices`` maps a model name (or the start of
    one: ``gpt-4o`` prices ``gpt-4o-2024-08-06``) to its :class:`Price`. A stream nobody has
    pulled for ``stream_idle_timeout`` seconds is cancelled (its HTTP stream closed, so it
    costs no more tokens); at most ``max_streams`` run at once. ``breaker`` names the
    node's breaker actor (None: unguarded); the API is breaker resource ``<actor>:api``.
    Tokens and cost are saved for the next incarnation every ``snapshot_interval`` seconds
    when they changed, and at a normal stop (0: only at the stop).
    """

    base_url: str = "https://api.openai.com/v1"
    api_key_env: str | None = "OPENAI_API_KEY"
    model: str = ""
    prices: dict[str, Price] = attrs.field(factory=dict)
    stream_idle_timeout: float = attrs.field(default=30.0, validator=positive_number)
    max_streams: int = 100
    snapshot_interval: float = attrs.field(default=5.0, validator=non_negative_seconds)
    breaker: str | None = "breaker"
