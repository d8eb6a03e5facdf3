"""Resolved configuration for every part of the platform.

Values come, highest priority first, from keyword arguments, ``PROVENANCE_*`` environment variables,
an optional TOML file (``PROVENANCE_CONFIG``, else ``provenance.toml`` in the current directory), and the
defaults below. One object is the single source of truth so the CLI, workers and API agree on paths.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote_plus

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = "provenance.toml"


def _config_file() -> Path | None:
    explicit = os.environ.get("PROVENANCE_CONFIG")
    if explicit:
        return Path(explicit)
    candidate = Path(DEFAULT_CONFIG_FILE)
    return candidate if candidate.is_file() else None


def _json_or_comma_separated(value: Any, opener: str, from_parts: Callable[[list[str]], Any]) -> Any:
    """A collection setting given as a string (as every environment variable is): JSON when it starts with
    ``opener``, else its non-blank comma-separated parts, stripped, through ``from_parts``. Anything else (a
    value from the TOML file or from code) passes through for pydantic to check."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith(opener):
        return json.loads(text)
    return from_parts([part.strip() for part in text.split(",") if part.strip()])


def _scores_by_type(parts: list[str]) -> dict[str, float]:
    pairs = [part.split("=", 1) for part in parts]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("expected TYPE=score pairs separated by commas")
    return {name.strip(): float(score) for name, score in pairs}


class Settings(BaseSettings):
    """Platform settings. The docs' settings reference is generated from these fields (docsgen/), so each
    ``description`` is what users read."""

    model_config = SettingsConfigDict(env_prefix="PROVENANCE_", extra="ignore")

    home: Path = Field(default=Path(".provenance"), description="Data directory: models, keys, bundles, SQLite.")
    model: str | None = Field(default=None, description="Hugging Face name or local path of the GPT-2 checkpoint.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(default="auto", description="auto = cuda > mps > cpu.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        default="auto", description="auto = float32 on CPU, bfloat16 (or float16) on GPU."
    )
    quantize: Literal["none", "int8"] = Field(default="none", description="int8 = dynamic quantization on CPU.")
    hub_timeout: float = Field(default=3.0, gt=0, description="Seconds to wait for the model hub before giving up.")
    hub_offline: bool = Field(default=False, description="Never contact the model hub (also set by HF_HUB_OFFLINE=1).")
    torch_threads: int | None = Field(default=None, ge=1, description="Torch intra-op threads (None = torch's).")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in the data dir.")
    broker_url: str | None = Field(default=None, description="Celery broker; default SQLite broker in the data dir.")
    hf_token: SecretStr | None = Field(default=None, description="Hugging Face token for private checkpoints.")
    secret_key: SecretStr | None = Field(
        default=None, description="Key-encryption key for the secrets published to the database (watermark, "
        "signing and PII keys); never stored there. Any long random string.")
    secret_key_file: Path | None = Field(default=None, description="A file holding the key-encryption key "
                                         "(instead of PROVENANCE_SECRET_KEY).")
    artifacts_from_store: bool = Field(
        default=False, description="Fetch bundles, memorisation index and keys from the database into the data "
        "home (and refresh them once per chunk): a host that starts with an empty home (`worker --from-store`).")

    # Store and scanning pipeline (provenance/store, provenance/pipeline).
    store_raw_text: bool = Field(default=False, description="Keep each document's raw text (default: redacted only).")
    scan_chunk_size: int = Field(default=32, ge=1, le=4096, description="Documents per pipeline task.")
    scan_max_chars: int = Field(default=200_000, ge=1, description="Longer documents are quarantined as oversize.")
    scan_max_pending_chunks: int = Field(default=64, ge=1, description="Submission pauses above this many "
                                         "unfinished chunks, so a huge dump never floods the broker or disk.")
    ledger_key_filter: Literal["auto", "on", "off"] = Field(
        default="auto", description="A per-process Bloom filter of the ledger's band keys, so a lookup skips "
        "the index probes no manifest can answer (same answers): auto = on from 2,097,152 band rows (about "
        "16,000 manifests); about one byte of memory per band row (128 MB at a million manifests), built in "
        "the background (about a minute at a million on 2 cores), lookups meanwhile probe every key.")
    chunk_lease_seconds: float = Field(default=300.0, gt=0, description="A chunk a worker claimed and did not "
                                       "finish within this time is handed to another worker.")
    stall_seconds: float = Field(default=60.0, gt=0, description="A job without progress for this long gets "
                                 "its lost chunks re-sent (lost broker messages, dead workers).")
    task_time_limit: float = Field(default=240.0, gt=0, description="Hard time limit of one chunk task (s); "
                                   "kept below the chunk lease so a live task never loses its chunk.")
    worker_concurrency: int = Field(default=1, ge=1, description="Worker processes of `provenance worker`.")

    # Verification API (provenance/api).
    api_signal_check_requests: int = Field(
        default=32, ge=1, description="An API process compares its loaded bundles with the active ones every this "
        "many uses of a signal (a promotion reaches it within that many requests, without a restart).")
    api_max_batch: int = Field(default=64, ge=1, description="Texts per /v1/verify/batch request.")
    api_max_text_chars: int = Field(default=100_000, ge=1, description="Longest text the API accepts (413 above).")
    api_max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Largest request body (413 above).")
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS (comma-separated); empty = CORS off.")
    rate_limit_redis_url: str | None = Field(default=None, description="Redis URL for shared rate-limit state; "
                                             "default: the database.")
    default_requests_per_minute: int = Field(default=600, ge=1, description="Per-key request limit by default.")
    default_tokens_per_minute: int = Field(default=20_000, ge=1, description="Per-key generated-token limit.")
    scan_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Folders the API's server-side path scans may read (comma- or "
        "os.pathsep-separated); empty = server-side path scans refused. The data directory is never scannable.")

    # Review dashboard (dashboard/).
    dashboard_password: SecretStr | None = Field(
        default=None, description="Ignored since reviewer accounts (provenance reviewer add): kept so old "
        "configurations still load; the dashboard says so when it is set.")
    dashboard_session_minutes: float = Field(default=30.0, gt=0, le=24 * 60, description="A dashboard session "
                                             "ends after this long without a page action (sign in again).")
    dashboard_artifact_sync_seconds: float = Field(
        default=30.0, ge=0, le=24 * 3600, description="A dashboard fed by the store (artifacts_from_store) "
        "fetches newly published bundles and keys at most this often, on a page run (0: every run).")
    dashboard_session_max_hours: float = Field(default=12.0, gt=0, le=24 * 7,
                                               description="A dashboard session ends this long after sign-in.")
    review_lease_seconds: float = Field(default=900.0, gt=0, description="A reviewer's claim on an item expires "
                                        "after this long without a decision.")
    review_undo_seconds: float = Field(default=20.0, gt=0, le=3600, description="How long after a decision its "
                                       "reviewer can still undo it (later: change it under My recent decisions).")
    review_overlap_share: float = Field(default=0.1, ge=0.0, le=1.0, description="Share of reviewed items "
                                        "decided by two different reviewers (overlap sampling: inter-reviewer "
                                        "agreement on the Stats page); 0 turns it off.")

    # Machine-text detection (detect/): the scorer LM defaults to the generator model.
    scorer_model: str | None = Field(default=None, description="Scorer LM for detection; default = `model`.")
    detector_bundle: str = Field(default="default", description="Detector bundle name under <home>/detectors.")
    detect_target_fpr: float = Field(default=0.01, gt=0, lt=0.5, description="FPR the machine threshold promises.")
    detect_batch_tokens: int = Field(default=8192, ge=128, description="Token budget per scoring batch.")
    # Toxicity / misuse signals (detect/toxicity, provenance/toxicity.py).
    toxicity_bundle: str = Field(default="toxicity", description="Toxicity bundle name under <home>/detectors.")
    toxicity_target_fpr: float = Field(default=0.05, gt=0, lt=0.5,
                                       description="FPR the toxicity threshold promises (chosen at training).")
    toxicity_block_fpr: float = Field(default=0.005, gt=0, lt=0.5,
                                      description="FPR on benign text (non-toxic rows and the generator's own "
                                                  "outputs) the stricter generation-blocking threshold promises.")
    toxicity_on_generation: Literal["withhold", "regenerate", "off"] = Field(
        default="withhold", description="What generation does with a toxic output: withhold, regenerate, off.")
    toxicity_max_regenerations: int = Field(default=2, ge=0, le=10,
                                            description="Regeneration attempts before a toxic output is withheld.")
    toxicity_block_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["hate", "threat"],
        description="Categories that block (withhold) a generation, each at its own threshold (comma-separated "
                    "or JSON list of hate, threat, offensive). Others are flagged, never blocked; add "
                    "offensive to also block profanity and insults.")
    # Inference optimisations (detect/onnx_scorer.py, generator/lora.py): see README "Inference optimisations".
    scorer_backend: Literal["torch", "onnx"] = Field(
        default="torch", description="Scorer runtime: torch, or ONNX Runtime (export cached per weights hash).")
    scorer_quantize: Literal["auto", "none", "int8"] = Field(
        default="auto", description="auto = int8 on CPU (2.6x faster, same left-out AUROC), else none; int8 "
                                    "changes scores, so bundles record it and must match.")
    adapter: str | None = Field(default=None, description="LoRA adapter directory applied on top of `model`.")

    # PII redaction (detect/pii): fields below are owned by the PII module.
    pii_entities: Annotated[list[str] | None, NoDecode] = Field(
        default=None, description="Entity types to find (comma-separated or JSON list); default: detect.pii's set.")
    pii_allow_list: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Terms never reported as PII (comma-separated or JSON list).")
    pii_deny_list: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Terms always reported; TYPE:term picks the type (else DENY_LIST).")
    pii_thresholds: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict, description="Minimum score per entity type, e.g. PERSON=0.5,default=0.35.")
    pii_operator: Literal["replace", "mask", "hash", "encrypt"] = Field(
        default="replace", description="Default redaction operator for `provenance pii redact` and the pipeline.")
    pii_hmac_secret: SecretStr | None = Field(
        default=None, description="HMAC key for hash pseudonyms; unset = <home>/keys/pii_hmac.key (created 0600).")
    pii_encryption_key: SecretStr | None = Field(
        default=None, description="AES key (16/24/32 chars) for encrypt/restore; unset = <home>/keys/pii_aes.key.")
    pii_processes: int = Field(default=1, ge=1, description="Worker processes for large PII batches.")

    @field_validator("pii_entities", "pii_allow_list", "pii_deny_list", "api_cors_origins", mode="before")
    @classmethod
    def _pii_list(cls, value: Any) -> Any:
        """Accept a JSON list or a comma-separated string (environment variables are strings)."""
        return _json_or_comma_separated(value, "[", list)

    @field_validator("pii_thresholds", mode="before")
    @classmethod
    def _pii_thresholds(cls, value: Any) -> Any:
        """Accept a JSON object or ``TYPE=score,TYPE=score``."""
        return _json_or_comma_separated(value, "{", _scores_by_type)

    @field_validator("toxicity_block_categories", mode="before")
    @classmethod
    def _toxicity_block_categories(cls, value: Any) -> Any:
        """Comma-separated or JSON list; only categories a toxicity bundle can block are accepted."""
        value = cls._pii_list(value)
        known = ("hate", "threat", "offensive")
        if isinstance(value, list):
            unknown = [name for name in value if name not in known]
            if unknown:
                raise ValueError(f"unknown toxicity categories {unknown}: choose from {', '.join(known)}")
        return value

    @field_validator("scan_roots", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        """Like the lists above, and os.pathsep separates paths too (as in PATH)."""
        if isinstance(value, str) and not value.strip().startswith("["):
            value = value.replace(os.pathsep, ",")
        return cls._pii_list(value)

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    _model_from_home: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _home_model(self) -> Settings:
        """No model set: the one this data home's keys and bundles belong to (``<home>/home.toml``)."""
        if self.model is None:
            from provenance.home import default_model

            self.model = default_model(self.home)
            self._model_from_home = self.model is not None
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # Derived locations: computed, never stored, so changing `home` moves everything together.
    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def bootstrap_model_dir(self) -> Path:
        return self.models_dir / "bootstrap"

    @property
    def detectors_dir(self) -> Path:
        return self.home / "detectors"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'provenance.sqlite'}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.home / 'broker.sqlite'}"

    @property
    def offline(self) -> bool:
        env_flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
        return self.hub_offline or env_flag in {"1", "true", "yes", "on"}

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home

    def public_view(self) -> dict[str, Any]:
        """Resolved settings safe to print: secrets and URL passwords are masked."""
        view: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else None
            elif isinstance(value, Path):
                value = str(value)
            view[name] = value
        view["database_url"] = mask_url_password(self.resolved_database_url)
        view["broker_url"] = mask_url_password(self.resolved_broker_url)
        view["offline"] = self.offline
        view["config_file"] = str(_config_file()) if _config_file() else None
        return view


SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pass", "pwd", "secret", "token", "access_token", "api_key",
                               "apikey", "auth", "sentinel_password", "ssl_password", "ssl_keyfile_password",
                               "sslpassword", "aws_secret_access_key", "secret_key"})


def mask_url_password(url: str) -> str:
    """Hide the secrets of a connection URL: the password of ``scheme://user:password@host`` and the value of any
    query parameter named like a secret (``redis://h/0?password=...``, ``?sslpassword=``, ``?token=``).

    The URL is not re-encoded (what is not secret reads exactly as configured), and an ``@`` inside the query is
    not mistaken for the end of the credentials."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    before_query = rest.split("?", 1)[0].split("#", 1)[0]
    at = before_query.rfind("@")
    netloc_end = min((i for i in (rest.find(c, at + 1) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    if at >= 0:
        credentials, host = netloc[:at], netloc[at + 1:]
        user, has_password, _ = credentials.partition(":")
        if has_password:
            netloc = f"{user}:***@{host}"
    path, has_query, query = tail.partition("?")
    if has_query:
        query, has_fragment, fragment = query.partition("#")
        pairs = []
        for pair in query.split("&"):
            key, has_value, _ = pair.partition("=")
            if has_value and unquote_plus(key).strip().lower() in SECRET_QUERY_KEYS:
                pair = f"{key}=***"
            pairs.append(pair)
        tail = f"{path}?{'&'.join(pairs)}{has_fragment}{fragment}"
    return f"{scheme}://{netloc}{tail}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from keyword arguments, env and TOML; an invalid value becomes one ``ProvenanceError`` that names
    the variable (the CLI, the dashboard and the workers all load settings through here)."""
    from pydantic import ValidationError

    from provenance.errors import ProvenanceError
    from provenance.home import check_model

    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        raise ProvenanceError(f"invalid setting {name}: {first['msg']}",
                              hint=f"check PROVENANCE_{name.upper()} or the TOML config file") from None
    if not settings._model_from_home:
        check_model(settings.home, settings.model)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once. Tests call ``get_settings.cache_clear()`` after changing env."""
    return load_settings()
