"""The AWS actor (built-in name ``aws``): S3 objects and SQS queues for every agent of the
node, through boto3, under limits, retries and a breaker per service."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

try:
    import boto3
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the AWS actor needs boto3: pip install 'agent-cellphone[aws]'") from exc

from actors import handler
from actors.connectors import ServiceActor

from ._messages import (
    AwsStatistics,
    S3Delete,
    S3Get,
    S3List,
    S3Listing,
    S3Object,
    S3Put,
    S3Stored,
    SqsDelete,
    SqsMessage,
    SqsReceive,
    SqsReceived,
    SqsSend,
    SqsSent,
)
from ._services import AwsService, allowed
from ._settings import AwsSettings

RECEIVE_MARGIN = 0.5
"""Seconds kept between an SQS long poll's end and the asker's deadline."""


class AwsActor(ServiceActor):
    """Answers ``s3.*`` and ``sqs.*`` (see :class:`AwsSettings`)."""

    settings_class = AwsSettings
    quiet_loggers = ("botocore", "boto3", "urllib3")

    async def open_clients(self) -> None:
        s: AwsSettings = self.context.settings
        session = boto3.Session(profile_name=s.profile, region_name=s.region)
        self._threads = concurrent.futures.ThreadPoolExecutor(s.max_pool_connections,
                                                              thread_name_prefix=f"{self.name}-aws")
        self.s3 = AwsService(self.name, "s3", s, session, self.guard, self.record, self._threads)
        self.sqs = AwsService(self.name, "sqs", s, session, self.guard, self.record, self._threads)
        self._queue_urls: dict[str, str] = {}

    async def close_clients(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _run(self, coro: Any) -> concurrent.futures.Future[Any]:
        return self.loop.submit(coro)

    # -- S3 --------------------------------------------------------------------------------
    @handler
    def on_s3_put(self, msg: S3Put) -> concurrent.futures.Future[S3Stored]:
        allowed("bucket", msg.bucket, self.context.settings.buckets)
        return self._run(self._put(msg, self.context.deadline))

    async def _put(self, msg: S3Put, deadline: float | None) -> S3Stored:
        got = await self.s3.call("put_object", deadline, True, Bucket=msg.bucket, Key=msg.key,
                                 Body=msg.body, ContentType=msg.content_type, Metadata=msg.metadata)
        return S3Stored(msg.bucket, msg.key, str(got.get("ETag", "")).strip('"'), len(msg.body))

    @handler
    def on_s3_get(self, msg: S3Get) -> concurrent.futures.Future[S3Object]:
        allowed("bucket", msg.bucket, self.context.settings.buckets)
        return self._run(self._get(msg, self.context.deadline))

    async def _get(self, msg: S3Get, deadline: float | None) -> S3Object:
        def read(response: Any) -> Any:
            return response["Body"].read()

        got = await self.s3.call("get_object", deadline, True, Bucket=msg.bucket, Key=msg.key)
        body = await self.loop.loop.run_in_executor(self._threads, read, got)
        return S3Object(msg.bucket, msg.key, body, str(got.get("ContentType", "")),
                        str(got.get("ETag", "")).strip('"'), len(body), dict(got.get("Metadata", {})))

    @handler
    def on_s3_list(self, msg: S3List) -> concurrent.futures.Future[S3Listing]:
        allowed("bucket", msg.bucket, self.context.settings.buckets)
        return self._run(self._list(msg, self.context.deadline))

    async def _list(self, msg: S3List, deadline: float | None) -> S3Listing:
        got = await self.s3.call("list_objects_v2", deadline, True, Bucket=msg.bucket,
                                 Prefix=msg.prefix, MaxKeys=max(1, min(msg.limit, 1000)))
        items = got.get("Contents", [])
        return S3Listing(msg.bucket, [i["Key"] for i in items], [int(i["Size"]) for i in items],
                         bool(got.get("IsTruncated")))

    @handler
    def on_s3_delete(self, msg: S3Delete) -> concurrent.futures.Future[bool]:
        allowed("bucket", msg.bucket, self.context.settings.buckets)

        async def delete() -> bool:
            await self.s3.call("delete_object", self.context.deadline, True, Bucket=msg.bucket,
                               Key=msg.key)
            return True
        return self._run(delete())

    # -- SQS -------------------------------------------------------------------------------
    async def _queue_url(self, queue: str, deadline: float | None) -> str:
        url = self._queue_urls.get(queue)
        if url is None:
            got = await self.sqs.call("get_queue_url", deadline, True, QueueName=queue)
            url = self._queue_urls[queue] = str(got["QueueUrl"])
        return url

    @handler
    def on_sqs_send(self, msg: SqsSend) -> concurrent.futures.Future[SqsSent]:
        allowed("queue", msg.queue, self.context.settings.queues)
        return self._run(self._send(msg, self.context.deadline))

    async def _send(self, msg: SqsSend, deadline: float | None) -> SqsSent:
        params: dict[str, Any] = {"QueueUrl": await self._queue_url(msg.queue, deadline),
                                  "MessageBody": msg.body, "DelaySeconds": msg.delay_seconds}
        if msg.attributes:
            params["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v}
                                           for k, v in msg.attributes.items()}
        if msg.group_id:
            params["MessageGroupId"] = msg.group_id
        if msg.dedup_id:
            params["MessageDeduplicationId"] = msg.dedup_id
        got = await self.sqs.call("send_message", deadline, bool(msg.dedup_id), **params)
        return SqsSent(msg.queue, str(got["MessageId"]))

    @handler
    def on_sqs_receive(self, msg: SqsReceive) -> concurrent.futures.Future[SqsReceived]:
        allowed("queue", msg.queue, self.context.settings.queues)
        return self._run(self._receive(msg, self.context.deadline))

    async def _receive(self, msg: SqsReceive, deadline: float | None) -> SqsReceived:
        wait = max(0, min(msg.wait_seconds, 20))
        if deadline is not None:  # a long poll ends before the asker stops waiting
            wait = max(0, min(wait, int(deadline - time.time() - RECEIVE_MARGIN)))
        params: dict[str, Any] = {"QueueUrl": await self._queue_url(msg.queue, deadline),
                                  "MaxNumberOfMessages": max(1, min(msg.max_messages, 10)),
                                  "WaitTimeSeconds": wait, "MessageAttributeNames": ["All"]}
        if msg.visibility_timeout is not None:
            params["VisibilityTimeout"] = msg.visibility_timeout
        got = await self.sqs.call("receive_message", deadline, True, **params)
        return SqsReceived(msg.queue, [
            SqsMessage(m["MessageId"], m["ReceiptHandle"], m.get("Body", ""),
                       {k: str(v.get("StringValue", "")) for k, v in
                        m.get("MessageAttributes", {}).items()})
            for m in got.get("Messages", [])])

    @handler
    def on_sqs_delete(self, msg: SqsDelete) -> concurrent.futures.Future[bool]:
        allowed("queue", msg.queue, self.context.settings.queues)

        async def delete() -> bool:
            await self.sqs.call("delete_message", self.context.deadline, True,
                                QueueUrl=await self._queue_url(msg.queue, self.context.deadline),
                                ReceiptHandle=msg.receipt_handle)
            return True
        return self._run(delete())

    def statistics(self) -> AwsStatistics:
        s: AwsSettings = self.context.settings
        services = {"s3": self.s3.caller.statistics(), "sqs": self.sqs.caller.statistics()}
        closed = sum(1 for v in services.values() if v["state"] != "open")
        return AwsStatistics(s.region, s.endpoint_url or "", closed / len(services), services)
