"""Green-list watermark (Kirchenbauer et al. 2023; unigram: Zhao et al. 2023): keys, logits processor and
model-free detector. Schemes: ``unigram`` (one fixed keyed list, the default for new keys), ``lefthash``,
``selfhash`` and the detection-only ``hf-lefthash``; README "Watermark and manifests" has their trade-offs.

Generation side: ``WatermarkLogitsProcessor(key, tokenizer)`` plugs into ``generator.generate`` (or any
``transformers`` ``generate``) and biases green tokens by ``delta``. Detection side: ``WatermarkDetector``
needs only the tokenizer and the key(s); it runs on numpy and returns exact binomial p-values.

    key = WatermarkKey.generate(tokenizer)  # unigram, gamma 0.25, delta 3.0
    texts = generate(lm, prompts, logits_processors=[WatermarkLogitsProcessor(key, lm.tokenizer)])
    WatermarkDetector(lm.tokenizer, [key]).at_fpr(1e-3).detect(texts[0].text).too_short

``import watermark`` does not import torch: the processor (the only torch user besides the hf-lefthash
compatibility mode) is loaded on first access, so a detection service stays light.
"""

from typing import TYPE_CHECKING, Any

from watermark.detector import WatermarkDetector
from watermark.errors import WatermarkError, WatermarkInputError, WatermarkKeyMismatchError
from watermark.keys import WatermarkKey, new_secret, tokenizer_fingerprint
from watermark.normalize import normalize_text, normalize_with_offsets
from watermark.results import DetectionResult, KeyScore, Span, WindowedResult
from watermark.schemes import SCHEMES
from watermark.stats import binom_sf

if TYPE_CHECKING:
    from watermark.processor import WatermarkLogitsProcessor


def __getattr__(name: str) -> Any:
    if name == "WatermarkLogitsProcessor":
        from watermark.processor import WatermarkLogitsProcessor

        return WatermarkLogitsProcessor
    raise AttributeError(f"module 'watermark' has no attribute {name!r}")


__all__ = [
    "SCHEMES",
    "DetectionResult",
    "KeyScore",
    "Span",
    "WatermarkDetector",
    "WatermarkError",
    "WatermarkInputError",
    "WatermarkKey",
    "WatermarkKeyMismatchError",
    "WatermarkLogitsProcessor",
    "WindowedResult",
    "binom_sf",
    "new_secret",
    "normalize_text",
    "normalize_with_offsets",
    "tokenizer_fingerprint",
]
