"""Messages of the OpenAI-compatible actor: chat (whole or streamed), embeddings, usage.

A streamed chat is pulled, not pushed: ``openai.chat`` with ``stream`` answers at once with
a stream id, and each ``openai.next`` answers with the pieces that arrived since the last
one (waiting up to ``wait`` seconds for at least one), until ``done`` brings the whole
completion. Pulling keeps order and loses nothing, needs no subscription, and a pull that
is lost can be asked again with the same ``after`` (see PROTOCOL.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from messages import message


@message("openai.chat")
class Chat:
    """A chat completion: ``messages`` as the API takes them (``{"role", "content"}`` maps),
    ``model`` ("" : the actor's), and any other API parameter in ``options``
    (``{"tools": [...], "response_format": {...}}``). With ``stream`` the answer is a
    :class:`ChatStream` to pull with :class:`Next`; without, a :class:`ChatCompletion`."""

    messages: list[dict[str, Any]]
    model: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    options: dict[str, Any] = attrs.field(factory=dict)


@message("openai.completion")
class ChatCompletion:
    """A finished chat completion, with its token counts and what it cost (USD, from the
    actor's ``prices``; 0.0 for a model without a price)."""

    model: str
    content: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    id: str = ""
    tool_calls: list[dict[str, Any]] = attrs.field(factory=list)
    attempts: int = 1
    seconds: float = 0.0


@message("openai.stream")
class ChatStream:
    """A streamed chat has started: pull its pieces with ``openai.next {stream}``."""

    stream: str
    model: str


@message("openai.next")
class Next:
    """The pieces of ``stream`` after the first ``after`` (0 at first, then the ``next`` of
    the last answer), waiting up to ``wait`` seconds (and never past the deadline) for one."""

    stream: str
    after: int = 0
    wait: float = 10.0


@message("openai.chunks")
class Chunks:
    """Pieces ``after`` to ``next`` - 1 of a stream's text, in order; with ``done``, the
    stream has ended and ``completion`` is the whole answer (its ``content`` is every piece
    joined)."""

    stream: str
    pieces: list[str]
    next: int
    done: bool
    completion: ChatCompletion | None = None


@message("openai.cancel")
class Cancel:
    """Stop ``stream`` now (its HTTP stream is closed, so it costs no more tokens)."""

    stream: str


@message("openai.embed")
class Embed:
    """Embeddings of each string of ``input``; ``dimensions`` where the model allows."""

    input: list[str]
    model: str = ""
    dimensions: int | None = None


@message("openai.embeddings")
class Embeddings:
    """One vector per input, in order, with the tokens read and the cost."""

    model: str
    vectors: list[list[float]]
    prompt_tokens: int
    cost: float


@message("openai.statistics")
class OpenAIStatistics:
    """The actor's counters (its ``actor.statistics`` answer): ``availability`` is 0.0 while
    the API's circuit is open; ``models`` holds per model ``requests``, ``prompt_tokens``,
    ``completion_tokens`` and ``cost`` (USD), counted since the first incarnation (carried
    across restarts by the actor's snapshot); ``unsaved`` is how many requests were counted
    since the last snapshot the node confirmed (what a SIGKILL now would lose); ``api`` the
    resource's call counters (this incarnation's)."""

    base_url: str
    availability: float
    requests: int
    errors: int
    streams: int
    cost: float
    models: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    api: dict[str, Any] = attrs.field(factory=dict)
    unsaved: int = 0
