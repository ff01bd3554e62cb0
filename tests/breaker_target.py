"""An actor the breaker's node tests reach through ``breaker.call`` ("tests.breaker_target:Target").

Its reply type and its errors are defined here only: the breaker's host never imports this
module, so the asker gets a typed :class:`Answer` only if the breaker passes the reply on
as it came, and a breaker matches :class:`DbError` only from the class names on the wire.
"""

from __future__ import annotations

from actors import Actor, handler
from messages import message


class DbError(Exception):
    """The family of errors a breaker policy lists by its base class."""


class DbTimeoutError(DbError):
    """A subclass of DbError."""


class BusinessError(Exception):
    """An error outside the DbError family."""


@message("target.question")
class Question:
    """Answer ``n * 2``, or fail: ``fail`` is "" (answer), "db" (DbTimeoutError) or "business"."""

    n: int
    fail: str = ""


@message("target.answer")
class Answer:
    """The answer to a Question."""

    n: int


class Target(Actor):
    """Answers questions, or raises the error asked for."""

    expected_errors = (DbError, BusinessError)

    @handler
    def on_question(self, msg: Question) -> Answer:
        if msg.fail == "db":
            raise DbTimeoutError(f"query {msg.n} timed out")
        if msg.fail == "business":
            raise BusinessError(f"question {msg.n} is not allowed")
        return Answer(msg.n * 2)
