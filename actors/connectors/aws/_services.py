"""boto3 clients for S3 and SQS, called from the actor's loop, their errors in our terms.

boto3 blocks, so each call runs on a small thread pool while the loop awaits it under the
shared :class:`ServiceCaller` (limits, breaker, retries, deadline). botocore's own retries
are off (``total_max_attempts`` 1), so the resource's policy alone decides.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fnmatch
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from actors.connectors import (
    BrokerGuard,
    PublishRefused,
    RequestRejected,
    ServiceCaller,
    ServiceTimeout,
    ServiceUnavailable,
)

from ._settings import AwsSettings

T = TypeVar("T")

THROTTLED = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "SlowDown",
                       "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled",
                       "RequestThrottledException", "ProvisionedThroughputExceededException"})
"""Error codes with which AWS services say "too fast" (not acted on: safe to send again)."""


class AwsService:
    """One AWS service (``s3`` or ``sqs``): a boto3 client and its call loop."""

    def __init__(self, actor: str, service: str, settings: AwsSettings, session: boto3.Session,
                 guard: BrokerGuard, record: Callable[[str, float, bool], None],
                 threads: concurrent.futures.ThreadPoolExecutor) -> None:
        self.service = service
        self.settings = settings
        config = botocore.config.Config(
            retries={"total_max_attempts": 1}, connect_timeout=settings.connect_timeout,
            read_timeout=settings.timeout, max_pool_connections=settings.max_pool_connections)
        self.client = session.client(service, endpoint_url=settings.endpoint_url, config=config)
        self.caller = ServiceCaller(f"{actor}:{service}", settings, guard, record)
        self._actor = actor
        self._threads = threads

    async def call(self, operation: str, deadline: float | None, idempotent: bool,
                   **params: Any) -> Any:
        """``client.<operation>(**params)`` under the shared call loop."""
        method = getattr(self.client, operation)
        loop = asyncio.get_running_loop()

        async def attempt(timeout: float) -> Any:
            try:
                return await loop.run_in_executor(self._threads, lambda: method(**params))
            except Exception as exc:
                raise translate(self.service, operation, exc) from None

        result, _ = await self.caller.call(f"{self._actor}:{self.service}:{operation}", attempt,
                                           deadline=deadline, idempotent=idempotent)
        return result


def allowed(kind: str, name: str, patterns: list[str]) -> None:
    """PublishRefused unless ``name`` matches one of ``patterns`` (none: any name)."""
    if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
        raise PublishRefused(f"{kind} {name!r} is not in the AWS actor's settings.{kind}s "
                             f"({', '.join(patterns)})")


def translate(service: str, operation: str, exc: BaseException) -> Exception:
    """A botocore exception as ours (see :mod:`actors.connectors` for the error tree)."""
    where = f"{service}.{operation}"
    errors = botocore.exceptions
    if isinstance(exc, (errors.EndpointConnectionError, errors.ConnectTimeoutError)):
        return ServiceUnavailable(f"{where}: cannot connect ({exc})", sent=False)
    if isinstance(exc, errors.ReadTimeoutError):
        return ServiceTimeout(f"{where}: no answer in time ({exc}); it may have acted on it")
    if isinstance(exc, errors.ClientError):
        meta = exc.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0) or None
        code = str(exc.response.get("Error", {}).get("Code", ""))
        text = f"{where}: {status} {code}: {exc.response.get('Error', {}).get('Message', '')}"
        if code in THROTTLED or status == 429:
            return ServiceUnavailable(text, sent=False, status=status or 429)
        if status is not None and status >= 500:
            return ServiceUnavailable(text, sent=True, status=status)
        return RequestRejected(text, status=status, code=code)
    if isinstance(exc, (errors.HTTPClientError, errors.ConnectionError)):
        return ServiceUnavailable(f"{where}: connection lost ({exc}); it may have acted on it",
                                  sent=True)
    if isinstance(exc, (errors.ParamValidationError, errors.NoCredentialsError,
                        errors.NoRegionError)):
        return RequestRejected(f"{where}: {type(exc).__name__}: {exc}")
    return ServiceUnavailable(f"{where}: {type(exc).__name__}: {exc}", sent=True)
