"""The profiler package's front door."""

from __future__ import annotations

import actors.profiler as profiler


def test_all_is_sorted_unique_and_complete() -> None:
    """__all__ is sorted, names each public object once, and every name exists."""
    names = profiler.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n)) or names == sorted(names)
    assert len(set(names)) == len(names)
    assert all(hasattr(profiler, n) for n in names)
    public = {n for n in vars(profiler) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(profiler, n)).__name__ == "module"}
    assert public - modules == set(names)
