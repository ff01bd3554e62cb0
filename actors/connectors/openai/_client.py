"""The agent's side of a streamed chat: iterate over the pieces as they arrive.

``for piece in StreamedChat(conn, Chat(...)):`` sends ``openai.chat`` with ``stream`` set,
then pulls with ``openai.next`` until the stream is done; :attr:`StreamedChat.completion`
then holds the whole answer. Leaving the loop early cancels the stream on the actor.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._messages import Cancel, Chat, ChatCompletion, ChatStream, Chunks, Next

PULL_WAIT = 10.0
"""Seconds one pull waits on the actor for a piece before it answers with none."""


class StreamedChat:
    """A streamed chat from a :class:`~actors.Connection` (see module doc)."""

    def __init__(self, connection: Any, chat: Chat, *, actor: str = "openai",
                 timeout: float = 30.0) -> None:
        self.connection = connection
        self.chat = _streamed(chat)
        self.actor = actor
        self.timeout = timeout
        self.completion: ChatCompletion | None = None
        self.pulls = 0

    def __iter__(self) -> Iterator[str]:
        started: ChatStream = self.connection.ask(self.actor, self.chat, timeout=self.timeout)
        after, done = 0, False
        try:
            while not done:
                got: Chunks = self.connection.ask(self.actor, Next(started.stream, after, PULL_WAIT),
                                                  timeout=PULL_WAIT + self.timeout)
                self.pulls += 1
                yield from got.pieces
                after, done, self.completion = got.next, got.done, got.completion
        finally:
            if not done:
                with contextlib.suppress(Exception):
                    self.connection.ask(self.actor, Cancel(started.stream), timeout=self.timeout)


async def stream_chat(connection: Any, chat: Chat, *, actor: str = "openai",
                      timeout: float = 30.0) -> AsyncIterator[str | ChatCompletion]:
    """The same from an :class:`~actors.AsyncConnection`: yields each piece, then the
    :class:`ChatCompletion` last."""
    started: ChatStream = await connection.ask(actor, _streamed(chat),
                                               timeout=timeout)
    after, done = 0, False
    try:
        while not done:
            got: Chunks = await connection.ask(actor, Next(started.stream, after, PULL_WAIT),
                                               timeout=PULL_WAIT + timeout)
            for piece in got.pieces:
                yield piece
            after, done = got.next, got.done
            if done and got.completion is not None:
                yield got.completion
    finally:
        if not done:
            with contextlib.suppress(Exception):
                await connection.ask(actor, Cancel(started.stream), timeout=timeout)


def _streamed(chat: Chat) -> Chat:
    return Chat(chat.messages, chat.model, chat.temperature, chat.max_tokens, True, chat.options)
