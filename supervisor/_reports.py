"""Supervisor reports: OTP's four-part error report, in one shape for every log line.

``supervisor report: supervisor=… context=… reason=… offender=…`` (then any facts that
identify the incarnation), where context is one of OTP's ``start_error``,
``child_terminated``, ``shutdown_error`` and ``shutdown``. Operators and tests grep for
this shape, so it is written here only.
"""

from __future__ import annotations

import logging

log = logging.getLogger("supervisor")


def supervisor_report(supervisor: str, context: str, reason: str, offender: str,
                      **facts: object) -> None:
    """Log one supervisor report at ERROR; ``facts`` follow as ``key=value``."""
    tail = "".join(f" {key}={value}" for key, value in facts.items())
    log.error("supervisor report: supervisor=%r context=%s reason=%r offender=%r%s",
              supervisor, context, reason, offender, tail)
