"""Calls to the API through the official ``openai`` client, and its errors in our terms.

The client's own retries are off (``max_retries=0``): the resource's :class:`ServiceCaller`
alone retries, paces and pauses, for every agent at once. Chat and embedding requests
change nothing on the server, so they are idempotent: a 5xx or a timeout is tried again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import openai

from actors.connectors import (
    BrokerGuard,
    Redactor,
    RequestRejected,
    ServiceCaller,
    ServiceTimeout,
    ServiceUnavailable,
    load_secret,
    retry_after_seconds,
)

from ._messages import Chat, Embed
from ._settings import OpenAISettings

_NOT_SENT = ("ConnectError", "ConnectTimeout", "PoolTimeout")
"""Transport errors (by class name, the client's HTTP library being its own) raised before
the request left: it certainly did not reach the API."""


class Api:
    """One OpenAI-compatible API: its client and its call loop (runs on the actor's loop)."""

    def __init__(self, actor: str, settings: OpenAISettings, guard: BrokerGuard,
                 redactor: Redactor, record: Any) -> None:
        self.settings = settings
        self.redactor = redactor
        secret = load_secret("settings", settings.api_key_env, settings.api_key_file)
        redactor.add(secret)
        self.client = openai.AsyncOpenAI(
            api_key=secret.value if secret is not None else "none", base_url=settings.base_url,
            max_retries=0, timeout=settings.timeout)
        self.caller = ServiceCaller(f"{actor}:api", settings, guard, record)

    def model(self, asked: str) -> str:
        """The model an ask means: its own, or the actor's; RequestRejected if neither."""
        model = asked or self.settings.model
        if not model:
            raise RequestRejected("no model: name one in the ask or in the actor's settings.model")
        return model

    async def chat(self, msg: Chat, model: str, deadline: float | None) -> tuple[Any, int]:
        """A whole chat completion (the client's object) and the attempts it took."""
        async def attempt(timeout: float) -> Any:
            return await self._call(self.client.chat.completions.create(
                **self._chat_params(msg, model), timeout=timeout))

        result: tuple[Any, int] = await self.caller.call(f"openai:chat:{model}", attempt,
                                                         deadline=deadline, idempotent=True)
        return result

    async def open_stream(self, msg: Chat, model: str, deadline: float | None) -> AsyncIterator[Any]:
        """A started stream of chunks (the HTTP answer has come; its pieces have not)."""
        async def attempt(timeout: float) -> Any:
            return await self._call(self.client.chat.completions.create(
                **self._chat_params(msg, model), stream=True,
                stream_options={"include_usage": True}, timeout=self.settings.timeout))

        stream, _ = await self.caller.call(f"openai:stream:{model}", attempt, deadline=deadline,
                                           idempotent=True)
        return stream  # type: ignore[no-any-return]

    async def embed(self, msg: Embed, model: str, deadline: float | None) -> Any:
        """The client's embeddings answer."""
        extra: dict[str, Any] = {} if msg.dimensions is None else {"dimensions": msg.dimensions}

        async def attempt(timeout: float) -> Any:
            return await self._call(self.client.embeddings.create(
                model=model, input=msg.input, timeout=timeout, **extra))

        result, _ = await self.caller.call(f"openai:embed:{model}", attempt, deadline=deadline,
                                           idempotent=True)
        return result

    def _chat_params(self, msg: Chat, model: str) -> dict[str, Any]:
        params: dict[str, Any] = {**msg.options, "model": model, "messages": msg.messages}
        if msg.temperature is not None:
            params["temperature"] = msg.temperature
        if msg.max_tokens is not None:
            params["max_tokens"] = msg.max_tokens
        return params

    async def _call(self, pending: Any) -> Any:
        """Await one client call, its exceptions turned into ours (see :func:`translate`)."""
        try:
            return await pending
        except openai.OpenAIError as exc:
            raise self.translate(exc) from None

    def translate(self, exc: BaseException) -> Exception:
        """The client's exception as ours, its text cleaned of every key."""
        clean = self.redactor.clean
        if isinstance(exc, openai.APITimeoutError):
            return ServiceTimeout(clean(f"the API did not answer in time ({exc})"))
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            sent = type(cause).__name__ not in _NOT_SENT if cause is not None else True
            return ServiceUnavailable(clean(f"cannot reach the API at {self.settings.base_url}: "
                                            f"{type(cause or exc).__name__}: {cause or exc}"),
                                      sent=sent)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            text = clean(f"the API answered {status}: {exc.message}")
            if status == 429 or status >= 500:
                return ServiceUnavailable(text, sent=status != 429, status=status,
                                          retry_after=_retry_after(exc.response.headers))
            return RequestRejected(text, status=status)
        return ServiceUnavailable(clean(f"{type(exc).__name__}: {exc}"), sent=True)

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.close()


def _retry_after(headers: Any) -> float | None:
    """OpenAI's ``retry-after-ms`` when it sends one, else the standard ``Retry-After``."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"), time.time())
