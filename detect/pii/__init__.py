"""PII detection and redaction: Presidio + spaCy's small English model, tuned for speed and span quality.

Public API (stable; the pipeline uses it)::

    from detect.pii import PIIConfig, get_analyzer, redact, restore

    analyzer = get_analyzer(PIIConfig.build(allow_list=["Acme"]))   # cached per process and config
    entities = analyzer.analyze_batch(texts)                         # list[list[PIIEntity]] in input order
    result = redact(texts[0], entities[0], operator="replace")        # RedactionResult(text, items)
    encrypted = redact(text, found, operator="encrypt", key=aes_key)
    original = restore(encrypted.text, aes_key)

``detect.pii`` never imports ``provenance``: the application passes a ``PIIConfig`` and the secrets.
"""

from detect.pii.config import DEFAULT_ENTITIES, PIIConfig
from detect.pii.engine import PIIAnalyzer, get_analyzer
from detect.pii.errors import PIIError
from detect.pii.operators import OPERATORS, RedactionResult, hmac_pseudonym, redact, restore
from detect.pii.resolve import PIIEntity

__all__ = [
    "DEFAULT_ENTITIES", "OPERATORS", "PIIAnalyzer", "PIIConfig", "PIIEntity", "PIIError", "RedactionResult",
    "get_analyzer", "hmac_pseudonym", "redact", "restore",
]
