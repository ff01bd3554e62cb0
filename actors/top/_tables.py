"""The view's tables: their columns, refilling them, and which row is selected."""

from __future__ import annotations

from typing import Any, Final

from textual.widgets import DataTable

from ._model import ACTOR_COLUMNS

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "actors": ACTOR_COLUMNS,
    "alerts": ("ID", "COMPONENT", "METRIC", "SEVERITY", "ACK", "MESSAGE"),
    "breakers": ("RESOURCE", "STATE", "FAIL", "CALLS", "REJECTED", "OPENS"),
    "slowest": ("OP", "P50", "P99", "RATE", "COUNT"),
}
"""Each table's id and column titles."""


def fill(table: DataTable[Any], rows: list[tuple[str, tuple[str, ...]]]) -> None:
    """Replace ``table``'s rows, keeping the cursor on the same key where it still is."""
    keep = selected(table)
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    keys = [key for key, _ in rows]
    if keep in keys:
        table.move_cursor(row=keys.index(keep), animate=False)


def selected(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor, if any."""
    if not table.row_count:
        return None
    key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    return None if key is None else str(key)
