"""Per-key token buckets, shared by every API process: in the database by default, in Redis when configured.

A bucket holds at most one minute's allowance and refills continuously (``per_minute / 60`` per second).
Both backends update a bucket atomically, so N processes enforce one limit, not N:

* database: one ``UPDATE ... SET level = refilled - cost WHERE refilled >= cost`` statement does the refill
  arithmetic and the check together (a single statement is atomic on SQLite and PostgreSQL; PostgreSQL
  re-checks the WHERE clause after taking the row lock); a missing bucket is created full with an
  ``INSERT ... ON CONFLICT DO NOTHING``;
* Redis: one Lua script (scripts run atomically) reads, refills, takes and writes the bucket, using the Redis
  server's clock so API hosts with skewed clocks still agree.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, and_, case, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from provenance.store.models import RateBucket


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until the bucket holds enough

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter(Protocol):
    def take(self, key_id: str, name: str, cost: float, per_minute: int) -> Decision:
        """Take ``cost`` from the bucket when it holds that much; else refuse and say when to retry."""

    def adjust(self, key_id: str, name: str, amount: float, per_minute: int) -> None:
        """Unconditionally add ``amount`` (negative: charge; may leave the bucket in debt), capped at capacity."""

    def close(self) -> None: ...


class DatabaseRateLimiter:
    """Buckets in the ``rate_buckets`` table."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.clock = clock  # tests freeze it to count exactly

    @staticmethod
    def _refilled(now: float, rate: float, capacity: float):  # noqa: ANN205 - a SQL expression
        elapsed = case((RateBucket.updated_at < now, literal(now) - RateBucket.updated_at), else_=0.0)
        raw = RateBucket.level + elapsed * rate
        return case((raw > capacity, literal(capacity)), else_=raw)

    def _where(self, key_id: str, name: str):  # noqa: ANN202
        return and_(RateBucket.key_id == key_id, RateBucket.name == name)

    def _insert_full(self, connection, key_id: str, name: str, level: float, now: float) -> bool:  # noqa: ANN001
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = insert(RateBucket).values(key_id=key_id, name=name, level=level, updated_at=now)
        # RETURNING, not rowcount: psycopg's rowcount for INSERT ... ON CONFLICT is not reliable here.
        inserted = connection.execute(statement.on_conflict_do_nothing().returning(RateBucket.key_id))
        return inserted.first() is not None

    def take(self, key_id: str, name: str, cost: float, per_minute: int) -> Decision:
        capacity, rate = float(per_minute), per_minute / 60.0
        for _attempt in range(5):
            now = self.clock()
            refilled = self._refilled(now, rate, capacity)
            updated_at = case((RateBucket.updated_at < now, literal(now)), else_=RateBucket.updated_at)
            with self.engine.begin() as connection:
                result = connection.execute(update(RateBucket).where(self._where(key_id, name), refilled >= cost)
                                            .values(level=refilled - cost, updated_at=updated_at))
                if result.rowcount == 1:
                    return Decision(True)
                level = connection.execute(select(refilled).where(self._where(key_id, name))).scalar()
                if level is None:  # first use of this bucket: create it full, minus this request
                    if cost > capacity:
                        return Decision(False, (cost - capacity) / rate)
                    if self._insert_full(connection, key_id, name, capacity - cost, now):
                        return Decision(True)
                    continue  # another process created it first: take from theirs
                if float(level) >= cost:  # the bucket appeared (or refilled) between the two statements
                    continue
                return Decision(False, (cost - float(level)) / rate)
        return Decision(False, 1.0)  # lost three races in a row: tell the client to retry shortly

    def adjust(self, key_id: str, name: str, amount: float, per_minute: int) -> None:
        capacity, rate = float(per_minute), per_minute / 60.0
        now = self.clock()
        raw = self._refilled(now, rate, capacity) + amount
        level = case((raw > capacity, literal(capacity)), else_=raw)
        with self.engine.begin() as connection:
            result = connection.execute(update(RateBucket).where(self._where(key_id, name))
                                        .values(level=level, updated_at=now))
            if result.rowcount == 0:
                self._insert_full(connection, key_id, name, min(capacity, capacity + amount), now)

    def close(self) -> None:
        return None


_LUA_TAKE = """
local cost = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local force = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(state[1])
local ts = tonumber(state[2])
if level == nil or ts == nil then level = capacity; ts = now end
if now > ts then level = math.min(capacity, level + (now - ts) * rate); ts = now end
local allowed = 0
if force == 1 or level >= cost then level = math.min(capacity, level - cost); allowed = 1 end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', tostring(ts))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
if allowed == 1 then return {1, '0'} end
return {0, tostring((cost - level) / rate)}
"""


class RedisRateLimiter:
    """Buckets as Redis hashes ``provenance:ratelimit:<key id>:<name>``, updated by one Lua script."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.script = self.client.register_script(_LUA_TAKE)

    def _run(self, key_id: str, name: str, cost: float, per_minute: int, force: bool) -> Decision:
        allowed, retry = self.script(keys=[f"provenance:ratelimit:{key_id}:{name}"],
                                     args=[repr(float(cost)), per_minute, repr(per_minute / 60.0), int(force)])
        return Decision(bool(int(allowed)), float(retry))

    def take(self, key_id: str, name: str, cost: float, per_minute: int) -> Decision:
        if cost > per_minute:
            return Decision(False, (cost - per_minute) / (per_minute / 60.0))
        return self._run(key_id, name, cost, per_minute, False)

    def adjust(self, key_id: str, name: str, amount: float, per_minute: int) -> None:
        self._run(key_id, name, -amount, per_minute, True)

    def close(self) -> None:
        self.client.close()


class LeasedRateLimiter:
    """Cuts shared-store writes on the request bucket: a process takes a small lease of tokens at once (at most
    5% of the bucket, at most 100) and spends it locally; a lease older than ``LEASE_SECONDS`` is handed back.

    The shared bucket is still never overdrawn (leases come out of it atomically), so N processes can never
    exceed the limit together; the cost is that a process may refuse up to one lease's worth early while
    another process holds unspent tokens, for at most a second. Buckets of fewer than 20 per minute get no
    lease (exact accounting), and the generated-token bucket is never leased (costs vary per request).
    """

    LEASE_SECONDS = 1.0
    MAX_LEASE = 100

    def __init__(self, backend: RateLimiter) -> None:
        import threading

        self.backend = backend
        self._leases: dict[tuple[str, str], tuple[float, float, int]] = {}  # -> (tokens left, expiry, per min)
        self._lock = threading.Lock()

    def _lease_size(self, per_minute: int) -> int:
        return min(self.MAX_LEASE, per_minute // 20)

    def take(self, key_id: str, name: str, cost: float, per_minute: int) -> Decision:
        size = self._lease_size(per_minute)
        if name != "requests" or size <= cost:
            return self.backend.take(key_id, name, cost, per_minute)
        now = time.monotonic()
        with self._lock:
            left, expiry, _ = self._leases.pop((key_id, name), (0.0, 0.0, per_minute))
            if left >= cost and expiry > now:
                self._leases[(key_id, name)] = (left - cost, expiry, per_minute)
                return Decision(True)
        if left > 0:  # stale or too small: hand it back before taking a new one
            self.backend.adjust(key_id, name, left, per_minute)
        if self.backend.take(key_id, name, size, per_minute).allowed:
            with self._lock:
                self._leases[(key_id, name)] = (size - cost, now + self.LEASE_SECONDS, per_minute)
            return Decision(True)
        return self.backend.take(key_id, name, cost, per_minute)  # near the limit: exact accounting

    def adjust(self, key_id: str, name: str, amount: float, per_minute: int) -> None:
        self.backend.adjust(key_id, name, amount, per_minute)

    def close(self) -> None:
        with self._lock:
            leases, self._leases = self._leases, {}
        for (key_id, name), (left, _expiry, per_minute) in leases.items():
            if left > 0:
                # Shutting down: a lease that cannot be returned only waits for the bucket to refill.
                with contextlib.suppress(Exception):
                    self.backend.adjust(key_id, name, left, per_minute)
        self.backend.close()
