"""The dashboard's HTTP side on aiohttp: the page, its assets, a live stream, two commands.

Routes: ``/`` the page; ``/static/...`` its script, styles and the vendored uPlot (all
from the package: nothing is fetched from elsewhere); ``/api/state`` one JSON snapshot;
``/api/events`` server-sent events (``state`` after each read, ``event`` for each node
event, ``trouble`` when the node does not answer); ``POST /api/restart`` ``{"name"}`` and
``POST /api/ack`` ``{"id"}``, refused (403) unless the ``control`` setting is on.

Every request must name a loopback host (``Host``), so a page on another site cannot reach
the dashboard through DNS rebinding; commands must be JSON (a cross-site form cannot send
that without the browser asking first), from the dashboard's own origin, and carry the
token when one is set.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from actors import is_local
from messages import CellphoneError

from ._board import Board

STATIC: Final = Path(__file__).resolve().parent / "static"
KEEPALIVE: Final = 15.0
"""Seconds between comments on an idle event stream (proxies and browsers keep it open)."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(board: Board) -> web.Application:
    """The aiohttp application serving ``board``."""
    app = web.Application(middlewares=[_loopback_host])
    app["board"] = board
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/api/events", _events)
    app.router.add_post("/api/restart", _restart)
    app.router.add_post("/api/ack", _ack)
    return app


@web.middleware
async def _loopback_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A dashboard on loopback answers only to loopback host names (DNS rebinding)."""
    named = request.url.host or ""  # the Host header's name, without the port
    if _board(request).settings.local and not is_local(f"tcp://{named}:0"):
        raise web.HTTPMisdirectedRequest(text=f"this dashboard answers only to a loopback host "
                                              f"name, not {request.host!r}\n")
    return await handler(request)


def _board(request: web.Request) -> Board:
    board: Board = request.app["board"]
    return board


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def _state(request: web.Request) -> web.StreamResponse:
    return web.json_response(_board(request).model.view(full_history=True), dumps=_dumps)


async def _events(request: web.Request) -> web.StreamResponse:
    board = _board(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    queue = board.hub.join()
    try:
        await response.write(_sse("state", board.model.view(full_history=True)))
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if item is None:
                break
            await response.write(_sse(*item))
    except ConnectionResetError:
        pass
    finally:
        board.hub.leave(queue)
    return response


def _sse(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {_dumps(data)}\n\n".encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


async def _command_body(request: web.Request) -> dict[str, Any]:
    """The JSON body of an allowed command; the HTTP error that says why not otherwise."""
    board = _board(request)
    if not board.settings.control:
        raise web.HTTPForbidden(text="this dashboard is read-only; start it with the setting "
                                     "\"control\": true to restart actors and acknowledge alerts\n")
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text=f"a command from another origin ({origin}) is refused\n")
    token = board.settings.token
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""),
                                         f"Bearer {token}"):
        raise web.HTTPUnauthorized(text="this dashboard needs its token: Authorization: "
                                        "Bearer <token>\n")
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the command as application/json\n")
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body is not JSON\n") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object\n")
    return body


async def _restart(request: web.Request) -> web.StreamResponse:
    body = await _command_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise web.HTTPBadRequest(text='expected {"name": "<actor>"}\n')
    return await _answer(_board(request).restart(name))


async def _ack(request: web.Request) -> web.StreamResponse:
    body = await _command_body(request)
    alert = body.get("id")
    if isinstance(alert, bool) or not isinstance(alert, int):
        raise web.HTTPBadRequest(text='expected {"id": <alert id>}\n')
    return await _answer(_board(request).ack(alert))


async def _answer(done: Awaitable[Any]) -> web.StreamResponse:
    try:
        answer = await done
    except (CellphoneError, TimeoutError) as exc:
        return web.json_response({"ok": False, "error": f"{type(exc).__name__}: {exc}"},
                                 status=502, dumps=_dumps)
    detail = getattr(answer, "detail", None)
    return web.json_response({"ok": True, "detail": detail if detail is not None else "done"},
                             dumps=_dumps)
