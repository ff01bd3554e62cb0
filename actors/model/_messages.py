"""Messages of the model actor."""

from __future__ import annotations

from typing import Any

from messages import message


@message("model.infer")
class Infer:
    """Run the model on one row: ``input`` is the row as (nested) lists of numbers."""

    input: list[Any]


@message("model.output")
class Output:
    """The model's output row for this ask, and how many rows shared its forward pass."""

    output: list[Any]
    batch: int


@message("model.statistics")
class ModelStatistics:
    """What the model actor has done (its ``actor.statistics`` answer): ``batches`` forward
    passes for ``inferences`` rows (``mean_batch`` rows each, ``largest_batch`` at most),
    ``queued`` asks waiting now, ``refused`` for a full queue, ``failed`` rows."""

    model: str
    parameters: int
    batches: int
    inferences: int
    mean_batch: float
    largest_batch: int
    queued: int
    refused: int
    failed: int
    availability: float = 1.0
