"""Green-list watermark (Kirchenbauer et al. 2023): keys, logits processor and model-free detector.

Depends only on a tokenizer and numpy. Filled in by the watermark issue.
"""
