"""The model actor (extra ``ml``: PyTorch, CPU): a model loaded once per process, serving
``model.infer`` asks with dynamic batching — concurrent asks run as one forward pass and
each asker gets its own row back.

Configure it as ``{"name": "model", "actor": "model", "settings": {"factory":
"mymodels:build"}}``; see :class:`ModelSettings`.
"""

from ._actor import ModelActor
from ._batcher import Batcher, QueueFull
from ._messages import Infer, ModelStatistics, Output
from ._settings import ModelSettings

__all__ = [
    "Batcher",
    "Infer",
    "ModelActor",
    "ModelSettings",
    "ModelStatistics",
    "Output",
    "QueueFull",
]
