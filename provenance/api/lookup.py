"""Provenance lookup in the generation ledger for the API: exact, near-duplicate and containment matches.

The lookup itself is the provenance signal's (``provenance.signals.provenance``), shared with the scanning
pipeline and the dashboard; this module keeps the API's names.
"""

from __future__ import annotations

from provenance.signals.provenance import NEAR_DUPLICATE_LIMIT, fast_minhash, lookup_many

__all__ = ["NEAR_DUPLICATE_LIMIT", "fast_minhash", "lookup_many"]
