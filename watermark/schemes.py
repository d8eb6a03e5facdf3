"""The seeding schemes: how many preceding tokens seed a green list, and whether the candidate salts its own seed.

A position ``i`` of a token sequence is *keyed* when its ``prefix_len`` preceding tokens exist and none of them
is a special token (end-of-text, padding, ...). Only keyed positions are biased during generation and only
keyed positions are scored during detection, so the two sides agree even for prompts shorter than the context
and for left-padded batch rows (GPT-2 pads with end-of-text, which is special).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchemeSpec:
    """Static facts about one seeding scheme."""

    name: str
    prefix_len: int  # preceding tokens the green decision depends on
    self_salted: bool  # the candidate token is part of its own seed
    description: str

    @property
    def ngram_len(self) -> int:
        """Tokens in the n-gram that determines one green bit (context plus the scored token)."""
        return self.prefix_len + 1


LEFTHASH = SchemeSpec(
    "lefthash", 1, False,
    "green list seeded by a keyed hash of the previous token (Kirchenbauer et al. Algorithm 2, context 1)",
)
SELFHASH = SchemeSpec(
    "selfhash", 3, True,
    "self-salted anchored min-hash over a 4-token window (3 preceding tokens + the candidate); the anchor is "
    "the left-most window token, the seed is hash(anchor) xor min(token hashes of the window)",
)
HF_LEFTHASH = SchemeSpec(
    "hf-lefthash", 1, False,
    "transformers' WatermarkingConfig(seeding_scheme='lefthash'): torch CPU randperm seeded by "
    "hashing_key * previous token (detection only)",
)

SCHEMES: dict[str, SchemeSpec] = {spec.name: spec for spec in (LEFTHASH, SELFHASH, HF_LEFTHASH)}


def get_scheme(name: str) -> SchemeSpec:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown watermark scheme {name!r}; use one of {sorted(SCHEMES)}") from None
