"""Wildcard matching of dotted names, for NATS subjects and AMQP topic routing keys.

MQTT topic filters are matched by paho-mqtt's own ``topic_matches_sub``.
"""

from __future__ import annotations


def nats_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one or more tokens."""
    want = pattern.split(".")
    have = subject.split(".")
    if want[-1] == ">":
        if len(have) < len(want):
            return False
        want, have = want[:-1], have[:len(want) - 1]
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=True))


def amqp_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic-exchange matching: ``*`` is exactly one word, ``#`` zero or more words."""
    return _words(pattern.split("."), routing_key.split("."))


def _words(want: list[str], have: list[str]) -> bool:
    if not want:
        return not have
    if want[0] == "#":
        return any(_words(want[1:], have[i:]) for i in range(len(have) + 1))
    return bool(have) and want[0] in ("*", have[0]) and _words(want[1:], have[1:])
