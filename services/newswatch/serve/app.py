"""The HTTP side of ``newswatch serve``: Starlette routes over an :class:`AlertStore`.

    app = create_app(store, status, settings, metrics, registry)
    uvicorn.run(app)     # newswatch.serve.main does this

Routes: ``/`` (HTML list with filters), ``/alerts/{id}`` (one alert's history), ``/alerts.atom`` (Atom per
filter), ``/alerts/{id}.cap`` and ``/alerts/{id}/v{n}.cap`` (CAP 1.2), ``/api/v1/alerts[/{id}]`` (JSON),
``/api/openapi.json``, ``/healthz``, ``/readyz``, ``/metrics``, ``/static/style.css``.
Every response carries a strict Content-Security-Policy: no script at all, styles from this origin only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from importlib import resources
from typing import Any, Protocol
from urllib.parse import urlencode

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newswatch.serve.api import alert_body, list_body, openapi_document
from newswatch.serve.atom import render_atom
from newswatch.serve.cap import render_cap
from newswatch.serve.metrics import ServeMetrics
from newswatch.serve.query import AlertFilter, QueryError, decode_cursor, encode_cursor, parse_filter
from newswatch.serve.render import alert_path, render_alert, render_error, render_list
from newswatch.serve.settings import ServeSettings
from newswatch.serve.store import AlertStore, StoredAlert

__all__ = ["CSP", "ROUTES", "ReadStatus", "create_app"]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_MAX_LIMIT = 500
_ATOM_ENTRIES = 100
ROUTES = (
    "/",
    "/alerts.atom",
    "/alerts/{alert_id}/v{version:int}.cap",
    "/alerts/{alert_id}.cap",
    "/alerts/{alert_id}",
    "/api/v1/alerts",
    "/api/v1/alerts/{alert_id}",
    "/api/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/static/style.css",
)


class ReadStatus(Protocol):
    """What the app asks of the read model (``ReadModel``; a stub in unit tests)."""

    @property
    def ready(self) -> bool: ...

    @property
    def lag(self) -> Mapping[int, int]: ...

    @property
    def error(self) -> str | None: ...


class _Instrument:
    """Pure ASGI middleware: security headers on every response, request count and duration by route."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        try:
            await self._app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) if route is not None else None
            label = template if template in ROUTES else "other"
            self._metrics.requests.labels(route=label, status=str(status)).inc()
            self._metrics.request_duration.labels(route=label).observe(time.perf_counter() - start)


def _limit(params: Mapping[str, str], default: int) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_LIMIT:
        raise QueryError(f"limit: an integer from 1 to {_MAX_LIMIT}")
    return int(raw)


def _page(
    store: AlertStore, params: Mapping[str, str], limit: int
) -> tuple[AlertFilter, list[StoredAlert], str | None]:
    flt = parse_filter(params)
    cursor = decode_cursor(params["cursor"]) if params.get("cursor") else None
    rows = store.list_alerts(flt, cursor=cursor, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].alert.last_updated, rows[-1].alert.alert_id) if more else None
    return flt, rows, next_cursor


def create_app(
    store: AlertStore,
    status: ReadStatus,
    settings: ServeSettings,
    metrics: ServeMetrics,
    registry: CollectorRegistry,
) -> ASGIApp:
    """The ASGI app; every handler is sync (SQLite), so Starlette runs it in its thread pool."""
    css = resources.files("newswatch.serve").joinpath("static/style.css").read_bytes()

    def base_url(request: Request) -> str:
        return (settings.base_url or str(request.base_url)).rstrip("/")

    def html_error(code: int, message: str) -> HTMLResponse:
        return HTMLResponse(render_error(code, message), status_code=code)

    def home(request: Request) -> Response:
        params = request.query_params
        try:
            flt, rows, next_cursor = _page(store, params, _limit(params, settings.page_size))
        except QueryError as exc:
            return html_error(400, str(exc))
        page = render_list(
            rows, flt, next_cursor=next_cursor, since_raw=params.get("since", ""), ready=status.ready
        )
        return HTMLResponse(page)

    def alert_page(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        stored = store.get(alert_id)
        if stored is None:
            return html_error(404, "No such alert (it may have expired from the alerts topic).")
        return HTMLResponse(render_alert(stored, store.versions(alert_id)))

    def atom(request: Request) -> Response:
        try:
            flt, rows, _ = _page(store, request.query_params, _ATOM_ENTRIES)
        except QueryError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        base = base_url(request)
        query = urlencode(flt.query_items())
        body = render_atom(
            rows, flt, base_url=base, self_href=f"{base}/alerts.atom{'?' + query if query else ''}"
        )
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    def cap(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        versions = store.versions(alert_id)
        wanted = request.path_params.get("version")
        chosen = [v for v in versions if wanted is None or v.alert.version == wanted]
        if not chosen:
            return PlainTextResponse("no such alert version", status_code=404)
        current = chosen[-1].alert
        body = render_cap(
            current,
            earlier=[v.alert for v in versions if v.alert.version < current.version],
            sender=settings.sender,
            web=f"{base_url(request)}{alert_path(alert_id)}",
        )
        return Response(body, media_type="application/cap+xml; charset=utf-8")

    def api_list(request: Request) -> Response:
        params = request.query_params
        try:
            _, rows, next_cursor = _page(store, params, _limit(params, settings.page_size))
        except QueryError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(list_body(rows, next_cursor))

    def api_alert(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        stored = store.get(alert_id)
        if stored is None:
            return JSONResponse({"error": f"no alert {alert_id[:128]!r}"}, status_code=404)
        return JSONResponse(alert_body(stored, store.versions(alert_id)))

    def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def readyz(request: Request) -> Response:
        body: dict[str, Any] = {
            "ready": status.ready,
            "lag": {str(p): n for p, n in status.lag.items()},
            "error": status.error,
        }
        return JSONResponse(body, status_code=200 if status.ready else 503)

    def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def stylesheet(request: Request) -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})

    handlers = {
        "/": home,
        "/alerts.atom": atom,
        "/alerts/{alert_id}/v{version:int}.cap": cap,
        "/alerts/{alert_id}.cap": cap,
        "/alerts/{alert_id}": alert_page,
        "/api/v1/alerts": api_list,
        "/api/v1/alerts/{alert_id}": api_alert,
        "/api/openapi.json": openapi,
        "/healthz": healthz,
        "/readyz": readyz,
        "/metrics": metrics_endpoint,
        "/static/style.css": stylesheet,
    }
    app = Starlette(routes=[Route(path, handlers[path], methods=["GET", "HEAD"]) for path in ROUTES])
    return _Instrument(app, metrics)
