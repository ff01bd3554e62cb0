"""Settings of the AWS actor: where (region, endpoint), as whom (the boto3 chain), what."""

from __future__ import annotations

import attrs

from actors.connectors import ServiceSettings


@attrs.frozen(kw_only=True)
class AwsSettings(ServiceSettings):
    """AWS through boto3 (see :class:`~actors.connectors.ServiceSettings` for the budget,
    timeouts and retries every service takes; each of S3 and SQS has its own).

    Credentials come from boto3's usual chain — environment variables, the shared
    credentials and config files (``profile`` picks a profile), the container or instance
    role — never from these settings. ``endpoint_url`` points every client elsewhere (a
    moto server, LocalStack, MinIO for S3). ``buckets`` and ``queues`` list the bucket and
    queue names askers may touch, as shell-style patterns (empty: any). S3 and SQS are
    breaker resources ``<actor>:s3`` and ``<actor>:sqs``.
    """

    region: str = "us-east-1"
    profile: str | None = None
    endpoint_url: str | None = None
    buckets: list[str] = attrs.field(factory=list)
    queues: list[str] = attrs.field(factory=list)
    max_pool_connections: int = 10
    breaker: str | None = "breaker"
