"""``run_node.py top``: a full-screen live view of a node, on textual.

Reads the node every ``interval`` seconds on a worker thread (:class:`~actors.observe.NodeReader`)
and follows its event stream (:class:`~actors.observe.EventFeed`): a lifecycle event
changes its row at once and triggers a fresh read, so a crash shows within milliseconds,
not at the next poll. Keys: ``s`` sort, ``/`` filter by name, ``r`` restart the selected
actor (asks first), ``a`` acknowledge the selected alert, ``tab`` to move between tables,
``q`` quit.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Header, Input, Label

from actors import Connection, connect
from actors.health import Ack
from actors.observe import EventFeed, NodeReader, NodeState, Sources
from messages import CellphoneError

from ._confirm import Confirm
from ._model import TopModel
from ._tables import COLUMNS, fill, selected


class TopApp(App[None]):
    """The live view of the node at ``endpoint``."""

    TITLE = "agent-cellphone top"
    CSS = """
    #actors { height: 2fr; }
    #lower { height: 1fr; }
    #lower DataTable { width: 1fr; }
    #filter { display: none; }
    #filter.shown { display: block; }
    .title { text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"), Binding("s", "sort", "sort"),
        Binding("slash", "filter", "filter"), Binding("r", "restart", "restart actor"),
        Binding("a", "ack", "ack alert"), Binding("escape", "unfilter", "clear filter", show=False)]

    def __init__(self, endpoint: str, *, sources: Sources | None = None, interval: float = 1.0,
                 window: str = "10s") -> None:
        super().__init__()
        self.endpoint, self.interval, self.window = endpoint, interval, window
        self.sources = sources or Sources()
        self.model = TopModel()
        self.reads = 0
        self.last_error = ""
        self._connection: Connection | None = None
        self._reader: NodeReader | None = None
        self._feed: EventFeed | None = None
        self._read_lock = threading.Lock()
        self._again = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter by name (Enter to keep, Escape to clear)", id="filter")
        yield Label("", id="summary")
        yield DataTable(id="actors", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="lower"):
            with Vertical():
                yield Label("open alerts", classes="title")
                yield DataTable(id="alerts", cursor_type="row")
            with Vertical():
                yield Label("breakers", classes="title")
                yield DataTable(id="breakers", cursor_type="row")
            with Vertical():
                yield Label("slowest operations (p99)", classes="title")
                yield DataTable(id="slowest", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        for name, columns in COLUMNS.items():
            self.query_one(f"#{name}", DataTable).add_columns(*columns)
        self.query_one("#actors", DataTable).focus()
        self._connection = connect(self.endpoint, timeout=self.sources.timeout)
        self._reader = NodeReader(self._connection, self.sources)
        self.start_feed()
        self.refresh_state()
        self.set_interval(self.interval, self.refresh_state)

    def on_unmount(self) -> None:
        if self._feed is not None:
            self._feed.stop()
        if self._connection is not None:
            self._connection.close(linger=0)

    # -- reading -------------------------------------------------------------------------
    @work(thread=True, exclusive=False, group="read")
    def start_feed(self) -> None:
        """Learn the event endpoint, then follow the stream on a thread of the feed's own."""
        try:
            with connect(self.endpoint, timeout=self.sources.timeout) as conn:
                events = conn.about().events
        except (CellphoneError, TimeoutError) as exc:
            self.call_from_thread(self.notify, f"no event stream: {exc}", severity="warning")
            return
        self._feed = EventFeed(events, lambda topic, body: self.call_from_thread(
            self.on_node_event, topic, body))
        self._feed.start()

    @work(thread=True, exclusive=False, group="read")
    def refresh_state(self) -> None:
        """Read the node on a worker thread, then draw it. Reads never overlap: one asked
        for while another runs makes that one read again when it ends, so an event never
        leaves the screen with a read that began before it."""
        self._again = True
        while self._again and self._read_lock.acquire(blocking=False):
            try:
                while self._again:
                    self._again = False
                    self._read_once()
            finally:
                self._read_lock.release()  # then look again: one may have been asked for

    def _read_once(self) -> None:
        assert self._reader is not None
        try:
            state: NodeState | None = self._reader.read(window=self.window)
            error = ""
        except (CellphoneError, TimeoutError) as exc:
            state, error = None, f"{type(exc).__name__}: {exc}"
        self.call_from_thread(self.show, state, error)

    def show(self, state: NodeState | None, error: str) -> None:
        """Draw a read (or say why there is none)."""
        self.last_error = error
        if state is not None:
            self.reads += 1
            self.model.update(state)
        self.redraw()

    def on_node_event(self, topic: str, body: Any) -> None:
        """An event from the stream: show it at once, then read everything again."""
        if self.model.apply_event(topic, body):
            self.redraw()
        self.refresh_state()

    # -- drawing -------------------------------------------------------------------------
    def redraw(self) -> None:
        """Put the model into the tables, keeping each table's selected row (nothing once
        the screen is being taken down: a read may end after that)."""
        try:
            self._draw()
        except NoMatches:
            return

    def _draw(self) -> None:
        model, tree = self.model, self.model.sort == "tree"
        for name, rows in (("actors", [(r.name, r.cells(tree)) for r in model.actor_rows()]),
                           ("alerts", [(r[0], r) for r in model.alert_rows()]),
                           ("breakers", [(r[0], r) for r in model.breaker_rows()]),
                           ("slowest", [(r[0], r) for r in model.slowest_rows()])):
            fill(self.query_one(f"#{name}", DataTable), rows)
        self.query_one("#summary", Label).update(model.summary(self.endpoint, self.last_error))

    # -- keys ----------------------------------------------------------------------------
    def action_sort(self) -> None:
        """Sort by the next key."""
        self.notify(f"sorted by {self.model.next_sort()}")
        self.redraw()

    def action_filter(self) -> None:
        """Show the filter box."""
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def action_unfilter(self) -> None:
        """Clear and hide the filter."""
        box = self.query_one("#filter", Input)
        box.value, self.model.filter = "", ""
        box.remove_class("shown")
        self.query_one("#actors", DataTable).focus()
        self.redraw()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.model.filter = event.value
        self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#actors", DataTable).focus()

    def action_restart(self) -> None:
        """Restart the selected actor, once confirmed."""
        name = selected(self.query_one("#actors", DataTable))
        if name is None:
            self.notify("select an actor first", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.command("node", "node.restart", {"name": name}, f"restarted {name}")
        self.push_screen(Confirm(f"Restart actor {name!r}? (a new incarnation)"), answered)

    def action_ack(self) -> None:
        """Acknowledge the selected alert."""
        alert = selected(self.query_one("#alerts", DataTable))
        if alert is None or not self.sources.health:
            self.notify("select an open alert first (tab to the alerts)", severity="warning")
            return
        self.command(self.sources.health, Ack(int(alert)), None, f"acknowledged alert {alert}")

    @work(thread=True, group="command")
    def command(self, target: str, message: Any, body: Any, done: str) -> None:
        """Send a command on a worker thread; say how it went; read again."""
        try:
            with connect(self.endpoint) as conn:
                conn.ask(target, message, body, timeout=max(5.0, self.sources.timeout))
        except (CellphoneError, TimeoutError) as exc:
            self.call_from_thread(self.notify, f"{type(exc).__name__}: {exc}", severity="error")
            return
        self.call_from_thread(self.notify, done)
        self.refresh_state()


def run_top(endpoint: str, *, sources: Sources | None = None, interval: float = 1.0,
            window: str = "10s") -> int:
    """Run the view in this terminal until ``q``; exit code 0."""
    TopApp(endpoint, sources=sources, interval=interval, window=window).run()
    return 0
