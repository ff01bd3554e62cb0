"""Build the model once per process: the factory, its weights, CPU inference mode."""

from __future__ import annotations

import importlib
import os
from typing import Any

import torch

from ._settings import ModelSettings

_OUT_OF_MEMORY = ("out of memory", "can't allocate memory", "not enough memory")


def build_model(settings: ModelSettings, data_dir: str) -> torch.nn.Module:
    """Call ``settings.factory`` with ``settings.args``, load ``settings.state_dict`` into it,
    and put it in eval mode; ValueError names the setting that is wrong."""
    torch.set_num_threads(settings.threads)
    module_name, _, attr = settings.factory.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"factory: cannot load {settings.factory!r}: {type(exc).__name__}: "
                         f"{exc}") from exc
    model = factory(**settings.args)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"factory: {settings.factory!r} returned {type(model).__name__}, "
                         "not a torch.nn.Module")
    if settings.state_dict:
        path = os.path.join(data_dir, settings.state_dict)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"state_dict: cannot load {path!r}: {type(exc).__name__}: {exc}") from exc
        model.load_state_dict(state)
    return model.eval()


def forward(model: torch.nn.Module, rows: list[Any]) -> list[Any]:
    """One forward pass over ``rows`` stacked as a float32 batch; each output row as lists."""
    with torch.inference_mode():
        batch = torch.tensor(rows, dtype=torch.float32)
        out = model(batch)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the model returned {type(out).__name__}; a tensor is expected")
        result: list[Any] = out.tolist()
        return result


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the process ran out of memory (the model's state is suspect)."""
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _OUT_OF_MEMORY)


def parameter_count(model: torch.nn.Module) -> int:
    """How many numbers the model holds."""
    return sum(p.numel() for p in model.parameters())
