"""Everything a request needs, built once per process at startup and shared by all requests.

The tokenizer, watermark keys, signing public key, database engine, key cache, rate limiter and audit writer
load when the app starts (``/readyz`` says whether that worked). The generator model and the detection
ensemble load on first use only: a verify-only deployment never pays for model weights.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from provenance.api.auditlog import AuditWriter
from provenance.api.auth import KeyCache
from provenance.api.metrics import ApiMetrics
from provenance.api.ratelimit import DatabaseRateLimiter, LeasedRateLimiter, RateLimiter, RedisRateLimiter
from provenance.api.watermarking import WatermarkService
from provenance.settings import Settings
from provenance.signing import load_or_create_signing_key, public_key_pem
from provenance.store.engine import get_engine
from provenance.store.schema import ensure_schema

log = logging.getLogger("provenance.api")


class ApiServices:
    def __init__(self, settings: Settings, *, metrics: ApiMetrics | None = None) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url
        settings.ensure_home()
        ensure_schema(self.url)
        self.engine = get_engine(self.url)
        self.metrics = metrics or ApiMetrics()
        self.keys = KeyCache(self.url)
        shared: RateLimiter = (RedisRateLimiter(settings.rate_limit_redis_url) if settings.rate_limit_redis_url
                               else DatabaseRateLimiter(self.engine))
        self.limiter: RateLimiter = LeasedRateLimiter(shared)
        self.audit = AuditWriter(self.engine)
        if settings.artifacts_from_store:  # before the signing key is read: it comes from the store too
            from provenance.artifacts import sync

            sync(settings)
        self._uses = 0
        self._startup_public_key = load_or_create_signing_key(settings.home).public_key()
        self._watermark: WatermarkService | None = None
        self._watermark_tried = False
        self.startup_error: str | None = None
        self._model_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._lm: Any = None
        from provenance.signals import signal_set

        # Every Nth request compares the loaded bundles with the active ones (a promotion arrives without a
        # restart; the other requests pay nothing for it).
        signal_set(settings).check_every = settings.api_signal_check_requests

    def load_watermark(self) -> None:
        """Load the tokenizer and keys now (startup); a failure is kept for /readyz instead of crashing."""
        from provenance.runtime import load_configured_tokenizer

        self._watermark_tried = True
        try:
            tokenizer, _found = load_configured_tokenizer(self.settings)
            self._watermark = WatermarkService(self.settings, tokenizer)
            self.startup_error = None
        except Exception as exc:  # reported by /readyz and by 503s, never as a traceback to clients
            self.startup_error = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
            log.error("watermark detector not loaded: %s", self.startup_error)

    @property
    def watermark(self) -> WatermarkService:
        from provenance.api.errors import ApiError

        if self._watermark is None and not self._watermark_tried:
            with self._model_lock:
                if not self._watermark_tried:
                    self.load_watermark()
        if self._watermark is None:
            raise ApiError(503, "the watermark detector is not loaded: " + (self.startup_error or "starting up"))
        return self._watermark

    @property
    def ready(self) -> bool:
        return self._watermark is not None

    def language_model(self) -> Any:
        """The generator, loaded once on first use."""
        if self._lm is None:
            with self._model_lock:
                if self._lm is None:
                    from provenance.runtime import load_configured_model

                    self._lm = load_configured_model(self.settings)
        return self._lm

    @property
    def generate_lock(self) -> threading.Lock:
        """One generation at a time per process: the model is shared and generation already uses all threads."""
        return self._generate_lock

    @property
    def detection(self) -> Any:
        """The detection signal of the active bundle (a promotion reaches this process within
        ``api_signal_check_requests`` uses)."""
        from provenance.signals import signal_set

        self._sync_from_store()
        return signal_set(self.settings).get("detection")

    def _sync_from_store(self) -> None:
        """Every Nth use (of any signal), install what was published to the store since: one query; a fetch
        only when something changed. The signals' stamps then see the new files."""
        self._uses += 1
        if self.settings.artifacts_from_store and self._uses % self.settings.api_signal_check_requests == 0:
            from provenance.artifacts import sync

            sync(self.settings)

    @property
    def provenance(self) -> Any:
        """The ledger lookup (the provenance signal) on this process's engine, with the data home's public key
        (its stamp is the key files: a new platform key reaches this process without a restart)."""
        from provenance.signals import signal_set

        self._sync_from_store()
        return signal_set(self.settings).get("provenance", engine=self.engine)

    @property
    def public_key(self) -> Any:
        """The platform's public key as the ledger lookup uses it now (the startup one if the home has none)."""
        return self.provenance.public_key or self._startup_public_key

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.public_key).decode("ascii")

    def close(self) -> None:
        self.audit.close()
        self.limiter.close()
