"""attrs field validators shared by actor settings and message classes.

Each error names the field, what was expected and what came, in the shape of
:func:`from_wire`'s own (``name: expected …, got …``), so a bad setting or a bad field
reads the same wherever it is declared. A bool is no number here (``True`` is not a count
of 1). Wrap one in ``attrs.validators.optional`` for a field that may be None.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def integer_at_least(low: int) -> Validator:
    """An integer ``>= low``."""
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{attribute.name}: expected an integer >= {low}, got {value!r}")
    return check


def _number(what: str, *, zero: bool) -> Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and (value >= 0 if zero else value > 0)):
            raise ValueError(f"{attribute.name}: expected {what}, got {value!r}")
    return check


positive_number = _number("a finite number > 0", zero=False)
"""A finite number ``> 0``."""
positive_seconds = _number("a finite number of seconds > 0", zero=False)
"""A duration: a finite number of seconds ``> 0``."""
non_negative_number = _number("a finite number >= 0", zero=True)
"""A finite number ``>= 0``."""
non_negative_seconds = _number("a finite number of seconds >= 0", zero=True)
"""A duration that may be zero: a finite number of seconds ``>= 0``."""
