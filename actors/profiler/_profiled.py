"""``profiled("op")``: time a block or a function (sync or async) into a :class:`Recorder`.

Used as a decorator, each call is timed on its own, so one decorated function is safe
from any number of threads and tasks. Used as a context manager (``with`` or
``async with``), one ``profiled`` object times one block at a time per thread. A block
that raises is recorded with ``ok=False`` and the exception propagates unchanged.
Samples go to ``recorder=`` if given, else to the process's default recorder
(:func:`set_default_recorder`; until one is set, a local recorder with no sink that keeps
at most one batch's worth of samples).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any, TypeVar, cast

from ._recorder import Recorder

F = TypeVar("F", bound=Callable[..., Any])

_default: Recorder | None = None
_default_lock = threading.Lock()


def default_recorder() -> Recorder:
    """The recorder :class:`profiled` uses when none is passed."""
    global _default  # noqa: PLW0603 - one default recorder per process
    with _default_lock:
        if _default is None:
            _default = Recorder(None, background=False)
        return _default


def set_default_recorder(recorder: Recorder | None) -> Recorder | None:
    """Make ``recorder`` the process default (None: back to a local one); returns the old one."""
    global _default
    with _default_lock:
        old, _default = _default, recorder
        return old


class profiled:
    """Time a block or every call of a function as operation ``op``."""

    __slots__ = ("_local", "op", "recorder")

    def __init__(self, op: str, *, recorder: Recorder | None = None) -> None:
        if not isinstance(op, str) or not op:
            raise TypeError(f"op: expected a non-empty string, got {type(op).__name__} {op!r}")
        self.op = op
        self.recorder = recorder
        self._local = threading.local()

    def _record(self, seconds: float, ok: bool) -> None:
        (self.recorder or default_recorder()).record(self.op, seconds, ok)

    def _bound(self) -> Callable[[float, bool], None]:
        """A recording function for the decorator's hot path (binds an explicit recorder)."""
        if self.recorder is None:
            return self._record  # looks the default up per call: it may be replaced later
        record, op = self.recorder.record, self.op
        return lambda seconds, ok: record(op, seconds, ok)

    # -- context manager ---------------------------------------------------------------
    def __enter__(self) -> profiled:
        starts: list[float] | None = getattr(self._local, "starts", None)
        if starts is None:
            starts = self._local.starts = []
        starts.append(perf_counter())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._record(perf_counter() - self._local.starts.pop(), exc_type is None)

    async def __aenter__(self) -> profiled:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self.__exit__(exc_type)

    # -- decorator ---------------------------------------------------------------------
    def __call__(self, fn: F) -> F:
        record = self._bound()
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = perf_counter()
                ok = False
                try:
                    result = await fn(*args, **kwargs)
                    ok = True
                    return result
                finally:
                    record(perf_counter() - start, ok)

            return cast(F, timed_async)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = perf_counter()
            ok = False
            try:
                result = fn(*args, **kwargs)
                ok = True
                return result
            finally:
                record(perf_counter() - start, ok)

        return cast(F, timed)
