"""The model actor (built-in name ``model``): one PyTorch model per process, serving
``model.infer`` with dynamic batching."""

from __future__ import annotations

import concurrent.futures
import logging
import os
from typing import Any, ClassVar

try:
    import torch  # noqa: F401  (the extra's library; the loader uses it)
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the model actor needs torch: pip install 'agent-cellphone[ml]'") from exc

from actors import Actor, handler
from messages import InvalidBody

from ._batcher import Batcher, QueueFull
from ._loader import build_model, forward, is_out_of_memory, parameter_count
from ._messages import Infer, ModelStatistics, Output
from ._settings import ModelSettings

log = logging.getLogger("actors.model")
EXIT_MODEL_FAILED = 1
"""Exit code after a fatal model failure (out of memory): an abnormal exit, so restarted."""


class ModelActor(Actor):
    """Loads ``settings.factory``'s model once, then batches ``model.infer`` asks."""

    settings_class = ModelSettings
    expected_errors: ClassVar[tuple[type[Exception], ...]] = (QueueFull, ValueError, TypeError)

    def on_start(self) -> None:
        s: ModelSettings = self.context.settings
        self._model = build_model(s, self.context.data_dir)
        self._parameters = parameter_count(self._model)
        self._batcher = Batcher(lambda rows: forward(self._model, rows), Output,
                                max_batch=s.max_batch, max_wait=s.max_wait_ms / 1000.0,
                                max_queue=s.max_queue, is_fatal=is_out_of_memory, fatal=self._fatal)
        log.info("model actor %r: %s loaded (%d parameters), batches of up to %d within %g ms",
                 self.name, s.factory, self._parameters, s.max_batch, s.max_wait_ms)

    def on_stop(self) -> None:
        self._batcher.close()

    def _fatal(self, exc: BaseException, rows: int) -> None:
        log.critical("model actor %r: %s: %s during a forward pass of %d rows; exiting so that "
                     "its supervisor starts a fresh process (asks in flight fail at once)",
                     self.name, type(exc).__name__, exc, rows)
        logging.shutdown()
        os._exit(EXIT_MODEL_FAILED)

    @handler
    def on_infer(self, msg: Infer) -> concurrent.futures.Future[Any]:
        shape = self.context.settings.input_shape
        if shape is not None and _shape(msg.input) != list(shape):
            raise InvalidBody(f"input: expected a row of shape {list(shape)}, got "
                              f"{_shape(msg.input)}")
        return self._batcher.submit(msg.input)

    def statistics(self) -> ModelStatistics:
        b = self._batcher
        return ModelStatistics(
            model=self.context.settings.factory, parameters=self._parameters, batches=b.batches,
            inferences=b.rows, mean_batch=round(b.rows / b.batches, 3) if b.batches else 0.0,
            largest_batch=b.largest, queued=b.queued(), refused=b.refused, failed=b.failed)


def _shape(value: Any) -> list[int]:
    """The shape of a nested list (by its first elements)."""
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape
