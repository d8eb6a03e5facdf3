"""Token buckets shared by processes: the database backend (SQLite, PostgreSQL) and the Redis backend.

Atomicity is checked by many concurrent takers against one bucket: exactly the capacity is granted (the
database tests freeze the clock so no refill muddies the count; Redis uses its own clock, so the bound allows
the refill of the elapsed time).
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from provenance.api.ratelimit import DatabaseRateLimiter, RedisRateLimiter
from provenance.apikeys import create_api_key
from provenance.store.engine import get_engine
from provenance.store.schema import ensure_schema
from tests.provenance.api_support import api_settings_for, prepare_home

FROZEN = 1_800_000_000.0


def _store(url: str) -> str:
    ensure_schema(url)
    return create_api_key(url, name="limits", scopes="verify")[0]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'limits.sqlite'}"


def _hammer(limiter, key_id: str, attempts: int, threads: int = 8) -> int:
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda _: limiter.take(key_id, "requests", 1, 50).allowed, range(attempts)))
    return sum(results)


def test_database_bucket_grants_exactly_its_capacity_under_threads(sqlite_url: str) -> None:
    key_id = _store(sqlite_url)
    limiter = DatabaseRateLimiter(get_engine(sqlite_url), clock=lambda: FROZEN)
    assert _hammer(limiter, key_id, 120) == 50
    refused = limiter.take(key_id, "requests", 1, 50)
    assert not refused.allowed and refused.retry_after == pytest.approx(1.2) and refused.retry_after_header == "2"


def test_database_bucket_refills_and_settles(sqlite_url: str) -> None:
    key_id = _store(sqlite_url)
    now = [FROZEN]
    limiter = DatabaseRateLimiter(get_engine(sqlite_url), clock=lambda: now[0])
    assert limiter.take(key_id, "tokens", 60, 60).allowed
    assert not limiter.take(key_id, "tokens", 1, 60).allowed
    now[0] += 10  # 60 per minute = 1 per second
    assert limiter.take(key_id, "tokens", 10, 60).allowed and not limiter.take(key_id, "tokens", 1, 60).allowed
    limiter.adjust(key_id, "tokens", 5, 60)  # refund unused
    assert limiter.take(key_id, "tokens", 5, 60).allowed
    limiter.adjust(key_id, "tokens", -30, 60)  # charge beyond the reservation: debt
    refused = limiter.take(key_id, "tokens", 1, 60)
    assert not refused.allowed and refused.retry_after == pytest.approx(31)
    assert not limiter.take(key_id, "tokens", 61, 60).allowed  # larger than the bucket: never


def test_database_bucket_is_shared_by_processes(sqlite_url: str) -> None:
    key_id = _store(sqlite_url)
    script = ("import sys; from provenance.api.ratelimit import DatabaseRateLimiter;"
              "from provenance.store.engine import get_engine;"
              f"limiter = DatabaseRateLimiter(get_engine({sqlite_url!r}), clock=lambda: {FROZEN});"
              f"print(sum(limiter.take({key_id!r}, 'requests', 1, 50).allowed for _ in range(40)))")
    processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
                 for _ in range(3)]
    granted = [int(process.communicate(timeout=120)[0].strip()) for process in processes]
    assert sum(granted) == 50, granted


def test_database_bucket_on_postgresql(postgres_url: str) -> None:
    key_id = _store(postgres_url)
    limiter = DatabaseRateLimiter(get_engine(postgres_url), clock=lambda: FROZEN)
    assert _hammer(limiter, key_id, 100) == 50


def test_redis_bucket_grants_its_capacity_under_threads(redis_server) -> None:
    limiter = RedisRateLimiter(redis_server.url)
    started = time.monotonic()
    granted = _hammer(limiter, "redis-key-1", 150)
    refill = (time.monotonic() - started) * 50 / 60
    assert 50 <= granted <= 50 + int(refill) + 1
    refused = limiter.take("redis-key-1", "requests", 5, 50)
    assert not refused.allowed and refused.retry_after > 0
    limiter.adjust("redis-key-1", "requests", 50, 50)  # refund: full again
    assert limiter.take("redis-key-1", "requests", 50, 50).allowed
    assert not limiter.take("redis-key-1", "requests", 51, 50).allowed
    limiter.close()


def test_app_with_redis_limits_returns_429(redis_server, tmp_path: Path, micro_model_dir: Path) -> None:
    from provenance.api import create_app

    settings = api_settings_for(tmp_path / "home", micro_model_dir, rate_limit_redis_url=redis_server.url)
    prepare_home(settings)
    _key_id, key = create_api_key(settings.resolved_database_url, name="r", scopes="verify", requests_per_minute=2)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as client:
        statuses = [client.post("/v1/verify", headers=headers, json={"text": "a b c"}).status_code for _ in range(4)]
        assert statuses == [200, 200, 429, 429]
        refused = client.post("/v1/verify", headers=headers, json={"text": "a b c"})
        assert int(refused.headers["Retry-After"]) >= 1 and refused.json()["error"] == "rate_limited"


def test_leased_limiters_never_overdraw_the_shared_bucket(sqlite_url: str) -> None:
    """Two processes' worth of leasing limiters on one bucket: together they grant exactly its capacity."""
    from provenance.api.ratelimit import LeasedRateLimiter

    key_id = _store(sqlite_url)
    first, second = (LeasedRateLimiter(DatabaseRateLimiter(get_engine(sqlite_url), clock=lambda: FROZEN))
                     for _ in range(2))
    granted = 0
    for _ in range(300):
        granted += first.take(key_id, "requests", 1, 400).allowed
        granted += second.take(key_id, "requests", 1, 400).allowed
    assert granted == 400


def test_a_closed_limiter_returns_its_unspent_lease(sqlite_url: str) -> None:
    from provenance.api.ratelimit import LeasedRateLimiter

    key_id = _store(sqlite_url)
    exact = DatabaseRateLimiter(get_engine(sqlite_url), clock=lambda: FROZEN)
    leased = LeasedRateLimiter(DatabaseRateLimiter(get_engine(sqlite_url), clock=lambda: FROZEN))
    assert leased.take(key_id, "requests", 1, 400).allowed  # leases 20, spends 1
    assert exact.take(key_id, "requests", 380, 400).allowed and not exact.take(key_id, "requests", 1, 400).allowed
    leased.close()
    assert exact.take(key_id, "requests", 19, 400).allowed and not exact.take(key_id, "requests", 1, 400).allowed
