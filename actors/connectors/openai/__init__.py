"""OpenAI-compatible model APIs (extra ``openai``: the official client, any ``base_url``):
chat, streamed chat and embeddings for every agent of the node, with rate limits, pauses,
retries and a breaker shared by all of them, and tokens and cost counted per model.

Configure it as ``{"name": "openai", "actor": "openai", "settings": {...}}``; see
:class:`OpenAISettings`. Stream from Python with :class:`StreamedChat` or
:func:`stream_chat`.
"""

from ._actor import OpenAIActor
from ._client import StreamedChat, stream_chat
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
from ._settings import OpenAISettings, Price

__all__ = [
    "Cancel",
    "Chat",
    "ChatCompletion",
    "ChatStream",
    "Chunks",
    "Embed",
    "Embeddings",
    "Next",
    "OpenAIActor",
    "OpenAISettings",
    "OpenAIStatistics",
    "Price",
    "StreamedChat",
    "stream_chat",
]
