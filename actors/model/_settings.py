"""Settings of the model actor: which model, and how asks are grouped into batches."""

from __future__ import annotations

import math
from typing import Any

import attrs

from messages import integer_at_least


def _factory(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    module, _, name = value.partition(":") if isinstance(value, str) else ("", "", "")
    if not module or not name:
        raise ValueError(f"{attribute.name}: expected 'module:function' returning a torch.nn.Module, "
                         f"got {value!r}")


def _millis(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name}: expected milliseconds >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class ModelSettings:
    """A PyTorch model served by one actor process (CPU).

    ``factory`` is ``"module:function"``: called with ``args`` as keyword arguments, it
    returns the ``torch.nn.Module`` (imported like an actor's module: from the config's
    directory, ``--path`` directories, then installed packages). ``state_dict`` names a file
    saved with ``torch.save(model.state_dict(), path)`` to load into it (read with
    ``weights_only=True``: no code runs from the file); a relative path is in the node's
    data directory. Concurrent asks are grouped into one forward pass of at most
    ``max_batch`` rows, waiting at most ``max_wait_ms`` after the first for more (as Ray
    Serve's ``@serve.batch``); ``max_batch`` 1 turns batching off. ``input_shape`` (one
    row's shape, e.g. ``[64]``) lets a wrong input be refused before it reaches a batch.
    At most ``max_queue`` asks wait; more are refused at once. ``threads`` is torch's
    intra-op thread count.
    """

    factory: str = attrs.field(validator=_factory)
    args: dict[str, Any] = attrs.field(factory=dict)
    state_dict: str | None = None
    max_batch: int = attrs.field(default=32, validator=integer_at_least(1))
    max_wait_ms: float = attrs.field(default=2.0, validator=_millis)
    input_shape: list[int] | None = None
    max_queue: int = attrs.field(default=1024, validator=integer_at_least(1))
    threads: int = attrs.field(default=1, validator=integer_at_least(1))
