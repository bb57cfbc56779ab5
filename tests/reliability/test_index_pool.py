"""The recommender index never waits for a database connection while holding its lock.

Under the launch-day load on PostgreSQL every worker stalled for 30 s: requests waiting for the
index lock held all the pool's connections while the index warmer, holding the lock, waited
for a connection. Here a pool of one connection makes that order deterministic.
"""

import threading
import time

from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from matchmaker.matching import index
from tests.conftest import TEST_DB_URL


def test_a_request_holding_the_only_connection_is_not_blocked_by_the_warmer(engine):
    small = create_engine(TEST_DB_URL, poolclass=QueuePool, pool_size=1, max_overflow=0,
                          pool_timeout=3, connect_args=(
                              {"check_same_thread": False} if TEST_DB_URL.startswith("sqlite")
                              else {}))
    try:
        request = Session(small)
        index.get_index(request)  # built once; the request keeps the pool's only connection
        outcome: dict[str, object] = {}

        def warmer() -> None:
            with Session(small) as s:
                try:
                    outcome["size"] = index.get_index(s).size
                except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
                    outcome["error"] = exc

        thread = threading.Thread(target=warmer)
        thread.start()
        time.sleep(0.5)  # the warmer is now waiting (for the connection, not holding the lock)
        t0 = time.perf_counter()
        idx = index.get_index(request)
        waited = time.perf_counter() - t0
        request.close()  # the connection goes back; the warmer gets it
        thread.join(10)
        assert waited < 2.5, f"the request waited {waited:.1f} s for the index lock"
        assert "error" not in outcome, outcome.get("error")
        assert outcome["size"] == idx.size
    finally:
        index.forget()
        small.dispose()
