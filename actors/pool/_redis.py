"""Redis connector through redis-py (the ``redis`` extra): one socket per pooled connection."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._connector import Connector, ErrorClass, to_plain

_TRANSIENT_REPLIES = ("LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN")


class RedisConnector(Connector):
    """``pool.command`` runs ``args`` with ``execute_command``; redis-py's own retries are
    off, so that the pool alone decides what is retried."""

    backend = "redis"
    sql = False

    def __init__(self, *, url: str, command_timeout: float, decode_responses: bool = True,
                 client_name: str = "cellphone-pool") -> None:
        self.client_name = client_name
        self.url = url
        self.command_timeout = command_timeout
        self.decode_responses = decode_responses

    def describe(self) -> str:
        return f"redis {self.url.rpartition('@')[2]}"

    def connect(self, timeout: float) -> Any:
        client = redis.Redis.from_url(
            self.url, socket_connect_timeout=timeout, socket_timeout=self.command_timeout,
            decode_responses=self.decode_responses, retry=Retry(NoBackoff(), 0),
            client_name=self.client_name,
            single_connection_client=True)
        try:
            client.ping()
        except BaseException:
            client.close()
            raise
        return client

    def check(self, conn: Any, timeout: float) -> None:
        conn.ping()

    def close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):  # already broken: nothing left to release
            conn.close()

    def command(self, conn: Any, args: Sequence[Any], timeout: float) -> Any:
        return to_plain(conn.execute_command(*args))

    def classify_driver_error(self, exc: BaseException) -> ErrorClass:
        errors = redis.exceptions
        if isinstance(exc, errors.TimeoutError):
            return ErrorClass("timeout", broken=True, may_have_run=True)
        if isinstance(exc, errors.ConnectionError):
            return ErrorClass("transient", broken=True, may_have_run=True)
        if isinstance(exc, errors.ResponseError) and str(exc).startswith(_TRANSIENT_REPLIES):
            return ErrorClass("transient", broken=False, may_have_run=False)
        if isinstance(exc, errors.RedisError):
            return ErrorClass("permanent", broken=False, may_have_run=False)
        return super().classify_driver_error(exc)
