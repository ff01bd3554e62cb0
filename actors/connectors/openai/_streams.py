"""Streamed chats: each is read from the API by a task on the actor's loop into a buffer
that askers pull from with ``openai.next`` (see :mod:`._messages` for why pulling).

A stream's pieces stay until it has ended and ``stream_idle_timeout`` has passed, so a
pull that was lost can be asked again with the same ``after``. A stream nobody pulls for
that long is cancelled: its HTTP stream is closed and the API stops generating.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from actors.connectors import RateLimited, RequestRejected, ServiceUnavailable

from ._api import Api
from ._messages import Chat, ChatCompletion, ChatStream, Chunks, Next
from ._usage import Usage

REAP_EVERY = 1.0
"""Seconds between looks for streams nobody pulls, or that ended long enough ago."""


class Stream:
    """One streamed chat's buffer; written by its pump task only."""

    def __init__(self, sid: str, model: str) -> None:
        self.id = sid
        self.model = model
        self.pieces: list[str] = []
        self.done = False
        self.error: Exception | None = None
        self.completion: ChatCompletion | None = None
        self.changed = asyncio.Event()
        self.pulled_at = time.monotonic()
        self.ended_at: float | None = None
        self.task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Wake every pull waiting on the stream; later pulls wait on a fresh event."""
        self.changed.set()
        self.changed = asyncio.Event()

    def end(self, error: Exception | None = None) -> None:
        """Mark the stream over (with ``error`` if it failed) and wake its pulls."""
        if self.ended_at is None:
            self.error = error
            self.done = error is None
            self.ended_at = time.monotonic()
        self.wake()


class Streams:
    """The streams of one actor (see module doc); every method runs on the actor's loop."""

    def __init__(self, api: Api, usage: Usage, record: Callable[[str, float, bool], None]) -> None:
        self.api = api
        self.usage = usage
        self.record = record
        self.settings = api.settings
        self._streams: dict[str, Stream] = {}
        self._reaper: asyncio.Task[None] | None = None
        self.started = 0

    def open_count(self) -> int:
        """Streams still being read from the API."""
        return sum(1 for s in self._streams.values() if s.ended_at is None)

    async def start(self, msg: Chat, model: str, deadline: float | None) -> ChatStream:
        """Open the stream (retried, paced and guarded like any call), then read it in the
        background; errors before the first piece reach the asker of ``openai.chat``."""
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap())
        if self.open_count() >= self.settings.max_streams:
            raise RateLimited(f"{self.open_count()} streams are open (settings.max_streams); "
                              "pull or cancel one, or try later")
        began = time.perf_counter()
        chunks = await self.api.open_stream(msg, model, deadline)
        stream = Stream(uuid.uuid4().hex, model)
        self._streams[stream.id] = stream
        self.started += 1
        stream.task = asyncio.get_running_loop().create_task(self._pump(stream, chunks, began))
        return ChatStream(stream.id, model)

    async def _pump(self, stream: Stream, chunks: Any, began: float) -> None:
        finish, ident, prompt, completion_tokens = "", "", 0, 0
        reader = chunks.__aiter__()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.__anext__(), self.settings.timeout)
                except StopAsyncIteration:
                    break
                ident = ident or chunk.id
                if chunk.choices:
                    choice = chunk.choices[0]
                    piece = choice.delta.content if choice.delta is not None else None
                    if piece:
                        if not stream.pieces:
                            self.record(f"openai:first_token:{stream.model}",
                                        time.perf_counter() - began, True)
                        stream.pieces.append(piece)
                        stream.wake()
                    finish = choice.finish_reason or finish
                if chunk.usage is not None:
                    prompt = chunk.usage.prompt_tokens
                    completion_tokens = chunk.usage.completion_tokens
        except asyncio.CancelledError:
            stream.end(RequestRejected(f"stream {stream.id} was cancelled"))
            raise
        except Exception as exc:
            failure = self.api.translate(exc) if not isinstance(exc, TimeoutError) else \
                ServiceUnavailable(f"stream {stream.id}: no piece for {self.settings.timeout:g} s",
                                   sent=True)
            self.record(f"openai:chat:{stream.model}", time.perf_counter() - began, False)
            stream.end(failure)
            return
        finally:
            with contextlib.suppress(Exception):
                await chunks.close()
        seconds = time.perf_counter() - began
        if not finish:  # the events stopped without the model saying it had finished
            self.record(f"openai:chat:{stream.model}", seconds, False)
            stream.end(ServiceUnavailable(f"stream {stream.id} ended before the model finished "
                                          "(no finish_reason)", sent=True))
            return
        self.record(f"openai:chat:{stream.model}", seconds, True)
        cost = self.usage.count(stream.model, prompt, completion_tokens)
        stream.completion = ChatCompletion(stream.model, "".join(stream.pieces), finish or "stop",
                                           prompt, completion_tokens, cost, ident,
                                           seconds=round(seconds, 6))
        stream.end()

    async def next(self, msg: Next, deadline: float | None) -> Chunks:
        """The pieces after ``msg.after``, waiting for one as ``msg`` and the deadline allow."""
        stream = self._streams.get(msg.stream)
        if stream is None:
            raise RequestRejected(f"no stream {msg.stream!r}: never started, cancelled, or ended "
                                  f"more than {self.settings.stream_idle_timeout:g} s ago")
        stream.pulled_at = time.monotonic()
        if msg.after >= len(stream.pieces) and stream.ended_at is None:
            wait = msg.wait if deadline is None else min(msg.wait, deadline - time.time() - 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stream.changed.wait(), max(wait, 0.0))
        pieces = stream.pieces[msg.after:]
        if not pieces and stream.error is not None:
            raise stream.error
        done = stream.done and msg.after + len(pieces) >= len(stream.pieces)
        return Chunks(stream.id, pieces, msg.after + len(pieces), done,
                      stream.completion if done else None)

    def cancel(self, sid: str) -> bool:
        """Stop and forget stream ``sid``; whether there was one."""
        stream = self._streams.pop(sid, None)
        if stream is None:
            return False
        if stream.task is not None:
            stream.task.cancel()
        return True

    async def _reap(self) -> None:
        limit = self.settings.stream_idle_timeout
        while True:
            await asyncio.sleep(REAP_EVERY)
            now = time.monotonic()
            for sid, stream in list(self._streams.items()):
                if stream.ended_at is None and now - stream.pulled_at > limit:
                    self.cancel(sid)
                elif stream.ended_at is not None and now - stream.ended_at > limit:
                    del self._streams[sid]

    async def close(self) -> None:
        """Cancel every stream and the reaper."""
        tasks = [s.task for s in self._streams.values() if s.task is not None]
        if self._reaper is not None:
            tasks.append(self._reaper)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._streams.clear()
