"""Readiness (database, migrations, recommender index) and the index warm-up at startup.

Each server process keeps its own recommender index. With `Settings.warm_index_on_start`
the app's lifespan starts `IndexWarmer`: a daemon thread that builds the index right away
(so the first visitor does not pay for it and /readyz turns green once it is built), then
every `index_refresh_seconds` reads the change feed and refreshes or rebuilds the index, so a
bulk import is absorbed in the background rather than by the next request.
"""

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from matchmaker.config import get_settings

log = logging.getLogger("matchmaker.ops")


class IndexWarmer:
    """Build this process's recommender index in a background thread and keep it fresh."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.state = "starting"
        self.error: str | None = None
        self.firms: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="index-warmer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait a little for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def tick(self) -> None:
        """Build or refresh the index once, recording the outcome."""
        from matchmaker.db import get_sessionmaker
        from matchmaker.matching import index

        t0 = time.perf_counter()
        try:
            with get_sessionmaker()() as session:
                idx = index.get_index(session)
                self.firms = idx.size
        except Exception as exc:
            if self.state != "error":
                log.exception("recommender index could not be built")
            self.state, self.error = "error", f"{exc.__class__.__name__}: {exc}"[:300]
            return
        if self.state != "ok":
            log.info("recommender index ready: %s firms in %.2fs", self.firms,
                     time.perf_counter() - t0)
        self.state, self.error = "ok", None

    def _run(self) -> None:
        self.tick()
        while self.interval > 0 and not self._stop.wait(self.interval):
            self.tick()


_warmer: IndexWarmer | None = None


def warmer() -> IndexWarmer | None:
    """Return this process's index warmer, if one was started."""
    return _warmer


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Start the index warm-up when the settings ask for it; stop it at shutdown."""
    global _warmer
    settings = get_settings()
    started: IndexWarmer | None = None
    if settings.warm_index_on_start and _warmer is None:
        _warmer = IndexWarmer(settings.index_refresh_seconds)
        started = _warmer
        _warmer.start()
    try:
        yield
    finally:
        if started is not None:
            started.stop()
            _warmer = None


def readiness(session: Session) -> tuple[bool, dict[str, str]]:
    """Check the database, the migration revision and the recommender index."""
    from matchmaker.matching import index
    from matchmaker.migrate import current_revision, head_revision

    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        checks["database"] = f"error: {exc.__class__.__name__}"
        return False, checks
    cur, head = current_revision(session.connection()), head_revision()
    migrated = cur == head
    checks["migrations"] = "ok" if migrated else f"at {cur}, head is {head}"
    index_ok = True
    if index.is_built(session):
        checks["index"] = "ok"
    elif not get_settings().warm_index_on_start:
        checks["index"] = "built on first use"
    else:
        w = warmer()
        index_ok = False
        checks["index"] = f"error: {w.error}" if w is not None and w.error else "building"
    return migrated and index_ok, checks
