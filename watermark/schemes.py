"""The seeding schemes: how many preceding tokens seed a green list, and whether the candidate salts its own seed.

A position ``i`` of a token sequence is *keyed* when its ``prefix_len`` preceding tokens exist and none of them
is a special token (end-of-text, padding, ...). Only keyed positions are biased during generation and only
keyed positions are scored during detection, so the two sides agree even for prompts shorter than the context
and for left-padded batch rows (GPT-2 pads with end-of-text, which is special).

``unigram`` has no context (``prefix_len == 0``): every non-special token is keyed, and its green bit depends on
the token alone, which is what makes it robust to edits (one substituted token changes one bit, where lefthash
changes two and selfhash up to four) and what makes it estimable from many samples.
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
UNIGRAM = SchemeSpec(
    "unigram", 0, False,
    "one fixed keyed green list for every position (Zhao et al. 2023, 'Provable robust watermarking'): an edit "
    "changes only the edited token's bit; the fixed list can be estimated from many samples",
)
HF_LEFTHASH = SchemeSpec(
    "hf-lefthash", 1, False,
    "transformers' WatermarkingConfig(seeding_scheme='lefthash'): torch CPU randperm seeded by "
    "hashing_key * previous token (detection only)",
)

SCHEMES: dict[str, SchemeSpec] = {spec.name: spec for spec in (LEFTHASH, SELFHASH, UNIGRAM, HF_LEFTHASH)}

# What a new key gets (``WatermarkKey.generate``, ``provenance keys create``, a fresh home's first key). Chosen on
# held-out prompts (README "Watermark and manifests"): at delta 2 no scheme keeps a 75-word excerpt detectable
# after 30% of its words are substituted; through `generate` + `watermark detect` (natural-length texts) unigram
# at delta 3 does (0.96-0.99) where lefthash at delta 3 does not (0.82-0.86), and unigram is the most robust to
# synonym swaps, insertions and deletions in 30-50-word excerpts. lefthash and selfhash keep delta 2.
DEFAULT_SCHEME = "unigram"
DEFAULT_GAMMA = 0.25
_DEFAULT_DELTAS = {"unigram": 3.0}


def default_delta(scheme: str) -> float:
    """The bias a new key of ``scheme`` gets when the caller does not choose one."""
    return _DEFAULT_DELTAS.get(scheme, 2.0)


def get_scheme(name: str) -> SchemeSpec:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown watermark scheme {name!r}; use one of {sorted(SCHEMES)}") from None
