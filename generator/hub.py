"""Model hub access that never hangs: a cache lookup, and a reachability probe with a hard deadline.

`from_pretrained` on an unreachable hub can block for minutes in DNS and retries, so the loader asks
these two cheap questions first and only then lets transformers touch the network.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import constants as hub_constants
from huggingface_hub import try_to_load_from_cache


def cached_snapshot(repo_id: str) -> Path | None:
    """Directory of a cached snapshot of ``repo_id`` that has its config and weights, or None."""
    try:
        config_path = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # malformed repo ids raise validation errors: treat as "not cached"
        return None
    if not isinstance(config_path, str):
        return None
    snapshot = Path(config_path).parent
    has_weights = any((snapshot / name).exists() for name in ("model.safetensors", "pytorch_model.bin"))
    return snapshot if has_weights else None


def hub_reachable(timeout: float) -> tuple[bool, str]:
    """Whether a TCP connection to the hub opens within ``timeout`` seconds (DNS included).

    The probe runs in a daemon thread because ``getaddrinfo`` ignores socket timeouts.
    """
    endpoint = urlparse(hub_constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    outcome: dict[str, str | bool] = {"ok": False, "reason": f"no answer from {host} within {timeout:g}s"}

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.update(ok=True, reason="reachable")
        except OSError as exc:
            outcome.update(ok=False, reason=f"{host} unreachable: {exc.__class__.__name__}: {exc}")

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(outcome["ok"]), str(outcome["reason"])
