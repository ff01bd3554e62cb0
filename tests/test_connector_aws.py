"""The AWS actor on a real node against moto in server mode — a real HTTP endpoint on
loopback speaking the S3 and SQS APIs, started here on a free port. Never real AWS."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from actors.connectors.aws import (
    AwsStatistics,
    S3Delete,
    S3Get,
    S3List,
    S3Object,
    S3Put,
    S3Stored,
    SqsDelete,
    SqsReceive,
    SqsSend,
)
from messages import HandlerError
from tests.nodes import RunningNode, eventually, free_port, kill_pids

KEY_ID, SECRET_KEY = "AKIAMOTOTESTING0001", "moto/secret/key/never-shown-0001"


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """``moto_server`` on a free loopback port; its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        import socket

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return False
            return True

        assert eventually(up, 30.0), "moto_server did not start"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            kill_pids({proc.pid})


@pytest.fixture
def credentials(tmp_path: Path) -> dict[str, str]:
    """A shared credentials file with profile ``cellphone-test``, and an environment that
    holds no other credentials (boto3's chain finds the profile, or nothing)."""
    (tmp_path / "credentials").write_text(
        f"[cellphone-test]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET_KEY}\n")
    (tmp_path / "config").write_text("")
    return {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
            "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_EC2_METADATA_DISABLED": "true"}


def aws_node(start_node: Callable[..., RunningNode], moto: str, env: dict[str, str],
             **settings: Any) -> RunningNode:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if name in os.environ:  # the chain must find the profile or nothing, not these
            env.setdefault(name, "")
    return start_node({"children": [
        {"name": "profiler", "actor": "profiler"},
        {"name": "breaker", "actor": "breaker"},
        {"name": "aws", "actor": "aws", "settings": {"endpoint_url": moto, "region": "us-east-1",
                                                     "profile": "cellphone-test", **settings}},
    ]}, env=env)


def direct(moto: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET_KEY)


def test_s3_objects_round_trip(start_node: Callable[..., RunningNode], moto: str,
                               credentials: dict[str, str], uid: str) -> None:
    """Put, get, list and delete an object with the profile's credentials; a missing key is
    RequestRejected with S3's own code; a bucket outside settings.buckets is refused."""
    bucket = f"cellphone-{uid}"
    direct(moto, "s3").create_bucket(Bucket=bucket)
    node = aws_node(start_node, moto, credentials, buckets=["cellphone-*"])
    with node.connect() as conn:
        stored = conn.ask("aws", S3Put(bucket, "notes/a.txt", b"hello", "text/plain",
                                       {"who": "ada"}), timeout=10)
        assert isinstance(stored, S3Stored) and stored.size == 5 and stored.etag
        got = conn.ask("aws", S3Get(bucket, "notes/a.txt"), timeout=10)
        assert isinstance(got, S3Object)
        assert (got.body, got.content_type, got.metadata) == (b"hello", "text/plain", {"who": "ada"})
        conn.ask("aws", S3Put(bucket, "notes/b.txt", b"x" * 10), timeout=10)
        listing = conn.ask("aws", S3List(bucket, "notes/"), timeout=10)
        assert listing.keys == ["notes/a.txt", "notes/b.txt"] and listing.sizes == [5, 10]
        assert conn.ask("aws", S3Delete(bucket, "notes/a.txt"), timeout=10) is True
        with pytest.raises(HandlerError) as missing:
            conn.ask("aws", S3Get(bucket, "notes/a.txt"), timeout=10)
        assert (missing.value.details["exception"], missing.value.details["error_code"],
                missing.value.details["status"]) == ("RequestRejected", "NoSuchKey", 404)
        with pytest.raises(HandlerError) as refused:
            conn.ask("aws", S3Get("someone-elses", "x"), timeout=10)
        assert refused.value.details["exception"] == "PublishRefused"
        stats = conn.ask("aws", "actor.statistics", {}, timeout=5)
    assert isinstance(stats, AwsStatistics) and stats.availability == 1.0
    assert stats.services["s3"]["calls"] >= 6
    assert direct(moto, "s3").get_object(Bucket=bucket, Key="notes/b.txt")["Body"].read() == b"x" * 10


def test_sqs_send_receive_delete(start_node: Callable[..., RunningNode], moto: str,
                                 credentials: dict[str, str], uid: str) -> None:
    """A message sent through the actor is received (long poll) with its attributes, and once
    deleted by its receipt handle it is gone from the queue."""
    queue = f"cellphone-{uid}"
    direct(moto, "sqs").create_queue(QueueName=queue)
    node = aws_node(start_node, moto, credentials)
    with node.connect() as conn:
        sent = conn.ask("aws", SqsSend(queue, '{"order": 7}', attributes={"kind": "order"}), timeout=10)
        got = conn.ask("aws", SqsReceive(queue, max_messages=5, wait_seconds=2,
                                         visibility_timeout=30), timeout=10)
        assert [m.message_id for m in got.messages] == [sent.message_id]
        message = got.messages[0]
        assert (message.body, message.attributes) == ('{"order": 7}', {"kind": "order"})
        assert conn.ask("aws", SqsDelete(queue, message.receipt_handle), timeout=10) is True
        empty = conn.ask("aws", SqsReceive(queue, wait_seconds=1, visibility_timeout=0), timeout=10)
    assert empty.messages == []
    url = direct(moto, "sqs").get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = direct(moto, "sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_credentials_come_from_the_chain(start_node: Callable[..., RunningNode], moto: str,
                                         tmp_path: Path, uid: str) -> None:
    """With no credentials anywhere in boto3's chain the actor refuses (RequestRejected naming
    the missing credentials), and its secret key shows nowhere when it has one."""
    empty = tmp_path / "nothing"
    empty.write_text("")
    node = aws_node(start_node, moto, {"AWS_SHARED_CREDENTIALS_FILE": str(empty),
                                       "AWS_CONFIG_FILE": str(empty),
                                       "AWS_EC2_METADATA_DISABLED": "true"}, profile=None)
    with node.connect() as conn, pytest.raises(HandlerError) as caught:
        conn.ask("aws", S3List(f"cellphone-{uid}"), timeout=10)
    assert caught.value.details["exception"] == "RequestRejected"
    assert "credentials" in str(caught.value).lower()
    assert SECRET_KEY not in node.log_text()


def test_an_unreachable_endpoint_is_unavailable_and_never_sent(
        start_node: Callable[..., RunningNode], credentials: dict[str, str]) -> None:
    """Nothing listens at the endpoint: ServiceUnavailable, may_have_run false, after the
    policy's attempts (connection refused is retried even for a send)."""
    node = aws_node(start_node, f"http://127.0.0.1:{free_port()}", credentials,
                    retry={"max_attempts": 2, "base_delay": 0.01}, connect_timeout=1.0)
    with node.connect() as conn, pytest.raises(HandlerError) as caught:
        conn.ask("aws", S3Put("cellphone-x", "k", b"v"), timeout=10)
    details = caught.value.details
    assert (details["exception"], details["may_have_run"], details["attempts"]) == \
        ("ServiceUnavailable", False, 2)
