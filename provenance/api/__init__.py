"""The verification API (FastAPI): watermark and provenance lookups, stamped generation, scans.

``create_app()`` builds the application; ``provenance serve`` runs it under uvicorn. The import is lazy so
that light modules of this package (the rate limiter, the audit writer) load without FastAPI and torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from provenance.api.app import create_app

        return create_app
    raise AttributeError(name)
