"""Password hashing, opaque tokens, a sliding-window rate limiter and the request guards.

The guards are pure ASGI middleware: `CSRFMiddleware` checks every state-changing request that
relies on the session cookie, `BodySizeLimitMiddleware` answers 413 to oversized bodies, and
`HTTPSOnlyCookiesMiddleware` marks cookies `Secure` when the request came over HTTPS, and
`NoStoreMiddleware` keeps pages shown to a signed-in user out of shared caches.
"""

import hashlib
import hmac
import json
import re
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_SESSION_KEY = "csrf"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

password_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return password_hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password against a hash; with no hash, spend the same time and fail."""
    if not password_hash:
        password_hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return password_hasher.verify(password, password_hash)
    except Exception:  # noqa: BLE001 - a malformed hash is a failed login, not a 500
        return False


def verify_and_update(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Check a password; also return a fresh hash when the stored one uses old parameters."""
    try:
        return password_hasher.verify_and_update(password, password_hash)
    except Exception:  # noqa: BLE001 - a malformed hash is a failed login, not a 500
        return False, None


def new_token(prefix: str = "mm_") -> str:
    """Return a new unguessable token (256 bits, URL-safe)."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_fingerprint(password_hash: str) -> str:
    """Return a short value that changes with the password, to end old sessions on a reset."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


class RateLimiter:
    """In-process sliding-window limiter: at most `limit` hits per key in `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a hit; return None if allowed, else the seconds until the next one is."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.0)
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle keys so memory stays bounded
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return None

    def reset(self) -> None:
        """Forget every recorded hit."""
        with self._lock:
            self._hits.clear()


def _plain_response(status: int, body: str, *, json_body: bool) -> tuple[Message, Message]:
    if json_body:
        payload = json.dumps({"detail": body}).encode()
        ctype = b"application/json"
    else:
        payload = body.encode()
        ctype = b"text/plain; charset=utf-8"
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", ctype),
            (b"content-length", str(len(payload)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
        ],
    }
    return start, {"type": "http.response.body", "body": payload}


class _BodyTooLarge(Exception):
    pass


# Routes that take larger bodies than the general limit (file imports): method, a regular
# expression the whole path must match, and a function returning the limit in bytes (read on
# every request, so settings changed in tests apply). Domains register theirs on import.
_LARGE_BODY_ROUTES: list[tuple[str, re.Pattern[str], Callable[[], int]]] = []


def allow_large_bodies(method: str, path_pattern: str, limit: Callable[[], int]) -> None:
    """Let requests to one route carry bodies up to `limit()` bytes instead of the general cap."""
    entry = (method.upper(), re.compile(path_pattern), limit)
    if not any(m == entry[0] and p.pattern == path_pattern for m, p, _f in _LARGE_BODY_ROUTES):
        _LARGE_BODY_ROUTES.append(entry)


def body_limit(method: str, path: str, default: int) -> int:
    """Return the largest body a request to this route may send."""
    for m, pattern, limit in _LARGE_BODY_ROUTES:
        if m == method and pattern.fullmatch(path):
            return limit()
    return default


def size_label(n: int) -> str:
    """Return a byte count as megabytes (or kilobytes) for messages: "64 MB"."""
    if n >= 1024 * 1024:
        mb = n / (1024 * 1024)
        return f"{mb:.0f} MB" if mb == int(mb) else f"{mb:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


class BodySizeLimitMiddleware:
    """Answer 413 when a request body is larger than `max_bytes` (declared or streamed).

    Routes registered with `allow_large_bodies` get their own (larger) limit; the 413 names
    the limit that applied.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wants_json = scope["path"].startswith("/api/")
        max_bytes = body_limit(scope.get("method", "GET"), scope["path"], self.max_bytes)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(send, wants_json, max_bytes)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._reject(send, wants_json, max_bytes)

    @staticmethod
    async def _reject(send: Send, wants_json: bool, max_bytes: int) -> None:
        from matchmaker.i18n import gettext as _

        message = _("Request body too large: the limit is %(limit)s") % {
            "limit": size_label(max_bytes)}
        start, body = _plain_response(413, message, json_body=wants_json)
        await send(start)
        await send(body)


class LazyCSRFToken:
    """The session's CSRF token, created and stored the first time a page renders it.

    Lazy so that responses which show no form (static files, JSON, probes) set no cookie.
    """

    __slots__ = ("_session",)

    def __init__(self, session: dict) -> None:
        self._session = session

    def __str__(self) -> str:
        token = self._session.get(CSRF_SESSION_KEY)
        if not token:
            token = self._session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
        return token

    __html__ = __str__

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return str(self) == other

    def __hash__(self) -> int:
        return hash(str(self))


class CSRFMiddleware:
    """Reject state-changing requests that ride on the session cookie without the CSRF token.

    The token lives in the session; forms send it as the `csrf_token` field, HTMX and scripts
    as the `X-CSRF-Token` header. Requests authenticated by a Bearer token carry no ambient
    credential and are exempt, as are API calls from a session that is not logged in (they
    are anonymous and get 401 from the route). The form body is read here and replayed to the
    endpoint unchanged. Must sit inside the session middleware.
    """

    def __init__(self, app: ASGIApp, *, exempt: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "session" not in scope:
            await self.app(scope, receive, send)
            return
        session = scope["session"]
        scope.setdefault("state", {})["csrf_token"] = LazyCSRFToken(session)
        if scope["method"] not in UNSAFE_METHODS or self._exempt(scope, session):
            await self.app(scope, receive, send)
            return

        headers = Headers(scope=scope)
        sent = headers.get(CSRF_HEADER)
        if sent is not None:
            await self._check(scope, receive, send, session, sent)
            return
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            more = await _read_body(receive, spool)
            spool.seek(0)
            # A form's token comes before its file fields (in document order), so the head of
            # a large upload is enough; the upload itself waits on disk, not in memory.
            sent = _form_token(headers.get("content-type", ""), spool.read(_SPOOL_BYTES))
            spool.seek(0)
            await self._check(scope, _replayer(spool, more, receive), send, session, sent)

    async def _check(self, scope: Scope, receive: Receive, send: Send, session: dict,
                     sent: str | None) -> None:
        if not sent or not hmac.compare_digest(sent, str(session.get(CSRF_SESSION_KEY) or "")):
            start, message = _plain_response(
                403, "CSRF token missing or invalid", json_body=scope["path"].startswith("/api/")
            )
            await send(start)
            await send(message)
            return
        await self.app(scope, receive, send)

    def _exempt(self, scope: Scope, session: dict) -> bool:
        if (scope["method"], scope["path"]) in self.exempt:
            return True
        auth = Headers(scope=scope).get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return True
        return scope["path"].startswith("/api/") and not session.get("uid")


# Bodies up to this size stay in memory while the CSRF token is looked for; larger ones go
# to a temporary file and are replayed to the endpoint from there, a chunk at a time.
_SPOOL_BYTES = 1024 * 1024
_REPLAY_CHUNK = 256 * 1024


async def _read_body(receive: Receive, out: Any) -> bool:
    """Copy the whole request body into `out`; tell whether the client is still connected."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        out.write(message.get("body", b""))
        if not message.get("more_body", False):
            return True


def _replayer(body: Any, connected: bool, receive: Receive) -> Receive:
    """Replay a body read into a file, in chunks, then pass on to the real `receive`."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            if not connected:
                done = True
                return {"type": "http.disconnect"}
            chunk = body.read(_REPLAY_CHUNK)
            more = len(chunk) == _REPLAY_CHUNK
            if more:
                # Peek so that the last chunk says more_body=False.
                pos = body.tell()
                more = bool(body.read(1))
                body.seek(pos)
            done = not more
            return {"type": "http.request", "body": chunk, "more_body": more}
        return await receive()

    return replay


def _form_token(content_type: str, body: bytes) -> str | None:
    """Pull `csrf_token` out of a urlencoded or multipart body."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if key == CSRF_FORM_FIELD:
                return value
        return None
    if ctype == "multipart/form-data":
        return _multipart_field(content_type, body, CSRF_FORM_FIELD)
    return None


def _multipart_field(content_type: str, body: bytes, name: str) -> str | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type, re.IGNORECASE)
    if not match:
        return None
    delimiter = b"--" + match.group(1).encode("latin-1")
    wanted = f'name="{name}"'.encode()
    for part in body.split(delimiter):
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep or wanted not in head or b"filename=" in head:
            continue
        return value.removesuffix(b"\r\n").decode("utf-8", "replace")
    return None


class HTTPSOnlyCookiesMiddleware:
    """Over HTTPS, mark every cookie `Secure` and tell the browser to stay on HTTPS (HSTS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def secure_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                cookies = headers.getlist("set-cookie")
                if cookies:
                    del headers["set-cookie"]
                    for cookie in cookies:
                        if "secure" not in [p.strip().lower() for p in cookie.split(";")]:
                            cookie += "; secure"
                        headers.append("set-cookie", cookie)
                headers.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, secure_send)


class NoStoreMiddleware:
    """Send `Cache-Control: no-store` on responses to signed-in users (their pages are private).

    Reads `state["user"]`, which the current-user dependency sets on every route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def private_send(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get("state", {}).get("user"):
                MutableHeaders(scope=message).setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, private_send)
