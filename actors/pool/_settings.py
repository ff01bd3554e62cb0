"""The pool's settings (config ``settings`` map) and the connector they describe."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

import attrs

from messages import integer_at_least, positive_seconds

from ._connector import Connector
from ._policy import Backoff
from ._slot import PoolConfig


@attrs.frozen(kw_only=True)
class PoolSettings:
    """Settings of a ``pool`` actor; every duration is in seconds.

    ``backend`` picks the connector. SQLite uses ``path`` (relative paths live in the
    node's data directory; ``:memory:`` is one in-memory database). PostgreSQL uses
    ``dsn`` (a libpq conninfo or URL) or host/port/dbname/user/password; MariaDB/MySQL
    (``mysql``) uses host/port/dbname/user/password (port 3306, user root). Redis uses
    ``dsn`` (a redis:// URL) or host/port/db/password. TCP uses host/port.
    """

    backend: Literal["sqlite", "postgres", "redis", "tcp", "mysql"] = "sqlite"
    path: str = "pool.sqlite3"
    dsn: str = ""
    host: str = "127.0.0.1"
    port: int = attrs.field(default=0, validator=integer_at_least(0))
    dbname: str = ""
    user: str = ""
    password: str = ""
    db: int = attrs.field(default=0, validator=integer_at_least(0))
    decode_responses: bool = True
    line_terminator: str = "\n"
    check_line: str = ""
    min_size: int = attrs.field(default=1, validator=integer_at_least(0))
    max_size: int = attrs.field(default=10, validator=integer_at_least(1))
    fill: Literal["eager", "lazy"] = "eager"
    max_lifetime: float = attrs.field(default=3600.0, validator=positive_seconds)
    max_idle: float = attrs.field(default=300.0, validator=positive_seconds)
    health_check_interval: float = attrs.field(default=30.0, validator=positive_seconds)
    check_after_idle: float = attrs.field(default=5.0, validator=positive_seconds)
    slow_check: float = attrs.field(default=1.0, validator=positive_seconds)
    acquire_timeout: float = attrs.field(default=5.0, validator=positive_seconds)
    connect_timeout: float = attrs.field(default=5.0, validator=positive_seconds)
    statement_timeout: float = attrs.field(default=30.0, validator=positive_seconds)
    reply_margin: float = attrs.field(default=0.1, validator=positive_seconds)
    """Seconds kept free before an asker's deadline for the verdict to reach it: a statement
    capped by the deadline ends this much before it (at most a quarter of the time left)."""
    client_check_interval: float = attrs.field(default=0.5, validator=positive_seconds)
    """PostgreSQL 14+: how often the server checks, while a statement runs, that the pool
    is still connected; a statement whose pool died ends within this time."""
    max_lease: int = attrs.field(default=0, validator=integer_at_least(0))
    """PostgreSQL fast lane: connections one agent process may lease and open itself (0:
    no leases). A lease hands the agent the DSN, credentials included (README)."""
    lease_ttl: float = attrs.field(default=2.0, validator=positive_seconds)
    """Seconds a lease lasts unless renewed (holders renew four times per ttl)."""
    breaker: str = ""
    """A circuit-breaker resource name for this pool's backend ("" : none); failures of the
    backend open it on the node's breaker actor, and an open circuit refuses operations
    at once and takes the leases back."""
    breaker_actor: str = "breaker"
    retries: int = attrs.field(default=2, validator=integer_at_least(0))
    backoff_initial: float = attrs.field(default=0.1, validator=positive_seconds)
    backoff_max: float = attrs.field(default=10.0, validator=positive_seconds)
    shrink_after: float = attrs.field(default=60.0, validator=positive_seconds)
    close_timeout: float = attrs.field(default=3.0, validator=positive_seconds)
    """How long a stopping pool waits for leased connections (under the node's grace period)."""
    stats_interval: float = attrs.field(default=10.0, validator=positive_seconds)
    """Seconds between ``pool.stats`` events on the node's event stream."""
    worker_threads: int = attrs.field(default=16, validator=integer_at_least(1))
    """Threads running operations: keep it >= max_size so every connection can be busy."""

    def __attrs_post_init__(self) -> None:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size: expected <= max_size ({self.max_size}), got {self.min_size}")
        if self.backend == "tcp" and not self.port:
            raise ValueError("port: the tcp backend needs a port, got 0")

    def pool_config(self) -> PoolConfig:
        """The pool mechanism's view of these settings."""
        return PoolConfig(
            min_size=self.min_size, max_size=self.max_size, eager=self.fill == "eager",
            max_lifetime=self.max_lifetime, max_idle=self.max_idle,
            health_check_interval=self.health_check_interval,
            check_after_idle=self.check_after_idle, slow_check=self.slow_check,
            acquire_timeout=self.acquire_timeout, connect_timeout=self.connect_timeout,
            statement_timeout=self.statement_timeout, reply_margin=self.reply_margin,
            retries=self.retries,
            backoff=Backoff(initial=self.backoff_initial, maximum=self.backoff_max),
            shrink_after=self.shrink_after, tick=min(0.5, self.health_check_interval / 2))

    def connector(self, *, data_dir: str | None = None, pool_name: str = "pool",
                  node: str = "", incarnation: int = 1) -> Connector:
        """Build the connector for ``backend`` (imports the optional driver it needs).

        ``node`` (a short token unique to the node) and ``incarnation`` name the pool's
        PostgreSQL connections, so a restarted pool can find what its predecessor left.
        """
        if self.backend == "postgres":
            from ._postgres import PostgresConnector, application_name

            return PostgresConnector(self.dsn or self._conninfo(),
                                     client_name=application_name(pool_name, node, incarnation),
                                     statement_timeout=self.statement_timeout,
                                     client_check_interval=self.client_check_interval)
        if self.backend == "mysql":
            from ._mysql import MysqlConnector

            return MysqlConnector(host=self.host, port=self.port or 3306, user=self.user or "root",
                                  password=self.password, database=self.dbname,
                                  statement_timeout=self.statement_timeout,
                                  client_name=f"cellphone-{pool_name}")
        if self.backend == "redis":
            from ._redis import RedisConnector

            auth = f":{quote(self.password, safe='')}@" if self.password else ""
            url = self.dsn or f"redis://{auth}{self.host}:{self.port or 6379}/{self.db}"
            return RedisConnector(url=url, client_name=f"cellphone-{pool_name}",
                                  command_timeout=self.statement_timeout,
                                  decode_responses=self.decode_responses)
        if self.backend == "tcp":
            from ._tcp import TcpConnector

            return TcpConnector(self.host, self.port, terminator=self.line_terminator,
                                check_line=self.check_line)
        from ._sqlite import SqliteConnector, resolve_sqlite_path

        database, uri = resolve_sqlite_path(self.path, data_dir, pool_name)
        return SqliteConnector(database, uri=uri, busy_timeout=self.statement_timeout)

    def _conninfo(self) -> str:
        parts = {"host": self.host, "port": str(self.port or 5432), "dbname": self.dbname,
                 "user": self.user, "password": self.password}
        return " ".join(f"{k}='{_quote(v)}'" for k, v in parts.items() if v)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
