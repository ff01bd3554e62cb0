"""A real HTTP server speaking the OpenAI wire format (chat completions, whole and streamed
as server-sent events, and embeddings); only the model behind it is scripted: it answers
``echo: <the last user message>``, one word per streamed piece."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.http_servers import Answer, Got, ScriptedServer


def words_of(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages)


def answer_of(messages: list[dict[str, Any]]) -> list[str]:
    """The scripted model's answer, as the pieces it streams."""
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    words = ["echo:", *str(last).split()]
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def chat(got: Got, *, piece_delay: float = 0.0) -> Answer:
    body = got.json()
    model, messages = body["model"], body["messages"]
    pieces = answer_of(messages)
    usage = {"prompt_tokens": words_of(messages), "completion_tokens": len(pieces),
             "total_tokens": words_of(messages) + len(pieces)}
    ident = f"chatcmpl-{int(time.time() * 1000)}"
    if not body.get("stream"):
        return Answer(200, {"id": ident, "object": "chat.completion", "created": int(time.time()),
                            "model": model, "usage": usage,
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": "".join(pieces)}}]})

    def event(choices: list[Any], extra: dict[str, Any] | None = None) -> bytes:
        data = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "choices": choices, **(extra or {})}
        return f"data: {json.dumps(data)}\n\n".encode()

    chunks = [event([{"index": 0, "delta": {"role": "assistant", "content": p},
                      "finish_reason": None}]) for p in pieces]
    chunks.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append(event([], {"usage": usage}))
    chunks.append(b"data: [DONE]\n\n")
    return Answer(200, headers={"Content-Type": "text/event-stream"}, chunks=chunks,
                  chunk_delay=piece_delay)


def embeddings(got: Got) -> Answer:
    body = got.json()
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [{"object": "embedding", "index": i, "embedding": [float(len(text)), float(i), 0.5]}
            for i, text in enumerate(inputs)]
    tokens = sum(len(t.split()) for t in inputs)
    return Answer(200, {"object": "list", "model": body["model"], "data": data,
                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def openai_server(piece_delay: float = 0.0) -> ScriptedServer:
    """The server, its routes under /v1."""
    return ScriptedServer({"/v1/chat/completions": lambda got: chat(got, piece_delay=piece_delay),
                           "/v1/embeddings": embeddings})


def api_error(status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
    """An error as the API writes it."""
    return Answer(status, {"error": {"message": message, "type": "error", "code": None}},
                  headers or {})
