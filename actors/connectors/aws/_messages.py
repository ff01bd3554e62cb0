"""Messages of the AWS actor: S3 objects and SQS queues."""

from __future__ import annotations

from typing import Any

import attrs

from messages import message


@message("s3.put")
class S3Put:
    """Store ``body`` as object ``key`` of ``bucket`` (replacing it: a put is idempotent)."""

    bucket: str
    key: str
    body: bytes
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = attrs.field(factory=dict)


@message("s3.stored")
class S3Stored:
    """An object S3 has stored: its ETag and size."""

    bucket: str
    key: str
    etag: str
    size: int


@message("s3.get")
class S3Get:
    """Object ``key`` of ``bucket``; a missing one is RequestRejected (status 404, code
    ``NoSuchKey``)."""

    bucket: str
    key: str


@message("s3.object")
class S3Object:
    """An object's bytes and what S3 says of it."""

    bucket: str
    key: str
    body: bytes
    content_type: str
    etag: str
    size: int
    metadata: dict[str, str] = attrs.field(factory=dict)


@message("s3.list")
class S3List:
    """The keys of ``bucket`` that start with ``prefix``, at most ``limit`` of them."""

    bucket: str
    prefix: str = ""
    limit: int = 1000


@message("s3.listing")
class S3Listing:
    """Keys with their sizes, in S3's order; ``truncated`` when more are there."""

    bucket: str
    keys: list[str]
    sizes: list[int]
    truncated: bool


@message("s3.delete")
class S3Delete:
    """Delete object ``key`` of ``bucket`` (deleting what is not there is no error)."""

    bucket: str
    key: str


@message("sqs.send")
class SqsSend:
    """Send ``body`` to queue ``queue`` (its name). A send may duplicate when retried after
    it may have arrived, so it is retried only then when ``dedup_id`` is set (a FIFO queue
    drops the copy)."""

    queue: str
    body: str
    delay_seconds: int = 0
    attributes: dict[str, str] = attrs.field(factory=dict)
    group_id: str = ""
    dedup_id: str = ""


@message("sqs.sent")
class SqsSent:
    """SQS has the message."""

    queue: str
    message_id: str


@message("sqs.receive")
class SqsReceive:
    """Up to ``max_messages`` (1 to 10) messages of ``queue``, waiting up to
    ``wait_seconds`` (0 to 20, never past the deadline) for one; each stays invisible to
    others for ``visibility_timeout`` seconds (None: the queue's) until deleted."""

    queue: str
    max_messages: int = 1
    wait_seconds: int = 0
    visibility_timeout: int | None = None


@message("sqs.message")
class SqsMessage:
    """One received message; delete it with its ``receipt_handle`` once handled."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str] = attrs.field(factory=dict)


@message("sqs.received")
class SqsReceived:
    """The messages received (none when the wait ran out)."""

    queue: str
    messages: list[SqsMessage]


@message("sqs.delete")
class SqsDelete:
    """Delete a received message by its receipt handle."""

    queue: str
    receipt_handle: str


@message("aws.statistics")
class AwsStatistics:
    """The AWS actor's region and per-service counters (its ``actor.statistics`` answer);
    ``availability`` is the share of its services whose circuit is not open."""

    region: str
    endpoint: str
    availability: float
    services: dict[str, dict[str, Any]] = attrs.field(factory=dict)
