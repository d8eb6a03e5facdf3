"""Keep tldextract (used by Presidio's email recognizer) off the network.

tldextract's default extractor downloads the public suffix list on first use. Presidio's email recognizer
calls ``tldextract.extract`` per match, so without this an air-gapped worker stalls on a connect timeout and a
connected one phones home. We set the documented variable before tldextract is imported and, should it already
be imported, replace its module-level extractor with one that uses only the bundled snapshot and no disk cache.
"""

from __future__ import annotations

import os
import sys

_done = False


def force_tldextract_offline() -> None:
    """Idempotent: after this call ``tldextract.extract`` never opens a socket or writes a cache file."""
    global _done
    if _done:
        return
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    import tldextract.tldextract as module  # noqa: PLC0415 - deliberately after the variable is set

    if tuple(module.TLD_EXTRACTOR.suffix_list_urls) or "tldextract" in sys.modules:
        module.TLD_EXTRACTOR = module.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    _done = True
