"""AWS through boto3 (extra ``aws``): S3 objects and SQS queues for every agent of the node,
with credentials from boto3's usual chain, and limits, retries and a breaker per service.

Configure it as ``{"name": "aws", "actor": "aws", "settings": {...}}``; see
:class:`AwsSettings`. Other clouds fit the same shape (see README).
"""

from ._actor import AwsActor
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
from ._settings import AwsSettings

__all__ = [
    "AwsActor",
    "AwsSettings",
    "AwsStatistics",
    "S3Delete",
    "S3Get",
    "S3List",
    "S3Listing",
    "S3Object",
    "S3Put",
    "S3Stored",
    "SqsDelete",
    "SqsMessage",
    "SqsReceive",
    "SqsReceived",
    "SqsSend",
    "SqsSent",
]
