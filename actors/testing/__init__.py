"""Helpers for testing actors and policies, shipped for users' tests as well as ours.

:class:`ManualClock` drives the project's policy code (injected clocks) without sleeping;
:class:`TcpProxy` stands between a client and a real server so that a test or a fault
injector can take the server away and bring it back without touching it.
"""

from ._clock import ManualClock
from ._proxy import TcpProxy

__all__ = ["ManualClock", "TcpProxy"]
