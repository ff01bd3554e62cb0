"""The OpenAI-compatible actor (built-in name ``openai``): chat, streamed chat and
embeddings for every agent of the node, through the official ``openai`` client."""

from __future__ import annotations

import concurrent.futures
import time

try:
    import openai  # noqa: F401  (the extra's client; the API wrapper uses it)
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the OpenAI actor needs openai: pip install 'agent-cellphone[openai]'") from exc

from actors import handler
from actors.connectors import ServiceActor

from ._api import Api
from ._messages import (
    Cancel,
    Chat,
    ChatCompletion,
    ChatStream,
    Chunks,
    Embed,
    Embeddings,
    Next,
    OpenAIStatistics,
)
from ._settings import OpenAISettings
from ._streams import Streams
from ._usage import Usage, UsageSaver


class OpenAIActor(ServiceActor):
    """Answers ``openai.chat``, ``openai.next``, ``openai.cancel`` and ``openai.embed`` (see
    :class:`OpenAISettings`)."""

    settings_class = OpenAISettings
    quiet_loggers = ("openai", "httpx", "httpx2", "httpcore", "httpcore2")

    def on_start(self) -> None:
        super().on_start()
        self.saver = UsageSaver(self.usage, self.context.save_snapshot,
                                self.context.settings.snapshot_interval, self.name)
        self.saver.start()

    def on_stop(self) -> None:
        try:
            super().on_stop()
        finally:
            self.saver.stop()

    async def open_clients(self) -> None:
        s: OpenAISettings = self.context.settings
        self.usage = Usage(s.prices)
        self.usage.restore(self.context.snapshot)
        self.api = Api(self.name, s, self.guard, self.redactor, self.record)
        self.streams = Streams(self.api, self.usage, self.record)

    async def close_clients(self) -> None:
        await self.streams.close()
        await self.api.close()

    @handler
    def on_chat(self, msg: Chat) -> concurrent.futures.Future[ChatCompletion | ChatStream]:
        model = self.api.model(msg.model)
        if msg.stream:
            return self.loop.submit(self.streams.start(msg, model, self.context.deadline))
        return self.loop.submit(self._complete(msg, model, self.context.deadline))

    async def _complete(self, msg: Chat, model: str, deadline: float | None) -> ChatCompletion:
        began = time.perf_counter()
        answer, attempts = await self.api.chat(msg, model, deadline)
        choice = answer.choices[0]
        usage = answer.usage
        prompt = usage.prompt_tokens if usage is not None else 0
        written = usage.completion_tokens if usage is not None else 0
        calls = [call.model_dump() for call in choice.message.tool_calls or ()]
        return ChatCompletion(model, choice.message.content or "", choice.finish_reason or "",
                              prompt, written, self.usage.count(model, prompt, written),
                              answer.id or "", calls, attempts,
                              round(time.perf_counter() - began, 6))

    @handler
    def on_next(self, msg: Next) -> concurrent.futures.Future[Chunks]:
        return self.loop.submit(self.streams.next(msg, self.context.deadline))

    @handler
    def on_cancel(self, msg: Cancel) -> concurrent.futures.Future[bool]:
        async def cancel() -> bool:
            return self.streams.cancel(msg.stream)
        return self.loop.submit(cancel())

    @handler
    def on_embed(self, msg: Embed) -> concurrent.futures.Future[Embeddings]:
        return self.loop.submit(self._embed(msg, self.api.model(msg.model), self.context.deadline))

    async def _embed(self, msg: Embed, model: str, deadline: float | None) -> Embeddings:
        answer = await self.api.embed(msg, model, deadline)
        tokens = answer.usage.prompt_tokens if answer.usage is not None else 0
        vectors = [list(item.embedding) for item in sorted(answer.data, key=lambda d: d.index)]
        return Embeddings(model, vectors, tokens, self.usage.count(model, tokens, 0))

    def statistics(self) -> OpenAIStatistics:
        api = self.api.caller.statistics()
        return OpenAIStatistics(
            base_url=self.context.settings.base_url,
            availability=0.0 if api["state"] == "open" else 1.0, requests=api["calls"],
            errors=api["failures"], streams=self.streams.open_count(),
            cost=self.usage.total_cost(), models=self.usage.snapshot(), api=api,
            unsaved=self.saver.unsaved)
