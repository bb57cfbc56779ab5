"""Structured request logs: one JSON line per request, with timing and a request id.

`RequestLogMiddleware` is pure ASGI (no BaseHTTPMiddleware: it must not buffer streaming
responses). It takes the caller's `X-Request-ID` when it looks sane, or makes one, echoes it
on the response, and after the response logs method, route template (not the raw path, which
can carry names and numbers people typed), status, duration in ms, request id and user id.
"""

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "matchmaker.access"
REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and its extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """Return the logging config for `matchmaker serve`: every line JSON on stderr.

    Uvicorn applies it in each worker process. The app's loggers ("matchmaker.*", including
    the access log) and uvicorn's own messages share one JSON handler; uvicorn's plain-text
    access log is off (the middleware writes a richer one).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json",
                              "stream": "ext://sys.stderr"}},
        "loggers": {
            "matchmaker": {"handlers": ["json"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["json"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def request_id_for(headers: list[tuple[bytes, bytes]]) -> str:
    """Return the caller's X-Request-ID when it is short and plain, else a new random id."""
    for key, value in headers:
        if key.lower() == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1").strip()
            if _SANE_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str | None:
    """Return the matched route's full path template (prefix of included routers too)."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    # FastAPI keeps included routers nested: the route knows only its own part of the path.
    # Its template has as many segments as the tail of the real path it matched.
    path = scope.get("path", "")
    parts = path.split("/")
    keep = len(parts) - (len(template.split("/")) - 1)
    if ":path}" in template or keep < 1:
        return template
    params = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    prefix = [("{" + params[p] + "}") if p in params else p for p in parts[1:keep]]
    return ("/" + "/".join(prefix) if prefix else "") + template


def _user_id(scope: Scope) -> int | None:
    state = scope.get("state") or {}
    view = state.get("user_view")
    uid = getattr(view, "id", None)
    return uid if isinstance(uid, int) else None


class RequestLogMiddleware:
    """Log one JSON line per HTTP request and echo its request id."""

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request, tag its response with the request id, and log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_for(scope.get("headers") or [])
        # Request.state reads and writes this dict: routes see the id, we see the user.
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            template = _route_template(scope)
            fields = {
                "event": "request",
                "method": scope.get("method"),
                "path": template or "<unmatched>",
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": rid,
                "user_id": _user_id(scope),
            }
            level = logging.ERROR if status >= 500 else logging.INFO
            self.logger.log(level, "%s %s %s", fields["method"], fields["path"], status,
                            extra={"fields": fields})
