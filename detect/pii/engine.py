"""``PIIAnalyzer``: Presidio's ``AnalyzerEngine`` on spaCy's small English model, built once per process.

Why it is faster than calling ``AnalyzerEngine.analyze()`` per document with the defaults:
- spaCy runs over many texts at once (``nlp.pipe``) and only its NER component is loaded;
- only recognizers that can report a configured entity are registered, and per document only those whose
  cheap pre-check passes are asked (no digit: no card/phone/ID regexes; no "@": no e-mail recognizer);
- Presidio's region-by-region phone matcher is replaced by one regex with validation;
- large batches can be spread over worker processes (``n_process``), each with its own engine.

Why memory stays flat: every block of documents is processed inside ``nlp.memory_zone()``, so strings that
spaCy interns for unseen words are released after the block instead of accumulating in the vocabulary.
Long documents are split by ``chunking``; results are merged by ``resolve``.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import islice
from typing import Any

from detect.pii.chunking import keep_in_chunk, plan_chunks
from detect.pii.config import PIIConfig
from detect.pii.errors import PIIError
from detect.pii.offline import force_tldextract_offline
from detect.pii.resolve import Candidate, PIIEntity, resolve

logger = logging.getLogger(__name__)

# Entity types whose recognizers can only fire on text containing one of these characters.
# A cheap search that must succeed before the entity's recognizers can fire: "@" for e-mail; for URLs a scheme,
# "www." or a dot between a letter/digit and two letters (a host name), never the ". " ending a sentence.
_NEEDS = {"EMAIL_ADDRESS": re.compile("@"), "URL": re.compile(r"://|www\.|[^\W_]\.[^\W\d_]{2}", re.IGNORECASE)}
_NO_DIGIT_OK = {"PERSON", "LOCATION", "ORGANIZATION", "NRP", "EMAIL_ADDRESS", "URL"}
_BLOCK_DOCS = 1024  # documents per spaCy memory zone / worker task (fewer zones: fewer lexemes re-created)
RECOGNIZER_NAME_KEY = "recognizer_name"  # Presidio's RecognizerResult.RECOGNIZER_NAME_KEY
# Results ranked after pattern results in ``resolve`` (the NER, and the gazetteer that fills its gaps).
GAP_FILLERS = frozenset({"SpacyRecognizer", "GazetteerRecognizer", "CensusNameRecognizer", "FirmNameRecognizer"})


class PIIAnalyzer:
    """Find PII in texts. Build through ``get_analyzer(config)`` to share one engine per process."""

    def __init__(self, config: PIIConfig | None = None) -> None:
        force_tldextract_offline()
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        from presidio_analyzer import AnalyzerEngine

        from detect.pii.nlp import build_nlp_engine
        from detect.pii.recognizers import build_registry

        self.config = config or PIIConfig()
        self.nlp_engine = build_nlp_engine(self.config.model, self.config.language)
        registry = build_registry(self.config.entities, self.config.deny_list, self.nlp_engine, self.config.language)
        self.engine = AnalyzerEngine(registry=registry, nlp_engine=self.nlp_engine,
                                     supported_languages=[self.config.language],
                                     context_aware_enhancer=_lean_enhancer())
        supported = set(self.engine.get_supported_entities(self.config.language))
        self.entities = sorted(supported)
        missing = [e for e in self.config.entities if e not in supported]
        if missing:
            raise PIIError(f"no recognizer reports {', '.join(missing)}",
                           hint="supported types: " + ", ".join(sorted(supported)))
        self._nlp = self.nlp_engine.get_nlp(self.config.language)
        self._pool: Any = None
        _compile_patterns(registry.recognizers)

    # -- public API ---------------------------------------------------------------------------------------
    def analyze(self, text: str) -> list[PIIEntity]:
        """Entities in one text (offsets are Python string indices into ``text``)."""
        return self.analyze_batch([text])[0]

    def analyze_batch(self, texts: Sequence[str]) -> list[list[PIIEntity]]:
        """Entities per text, in input order. Uses worker processes for large batches when configured."""
        return list(self.iter_analyze(texts, parallel=len(texts) >= self.config.multiprocess_min_docs))

    def iter_analyze(self, texts: Iterable[str], parallel: bool = False) -> Iterator[list[PIIEntity]]:
        """Stream results for a stream of texts (memory bounded by one block of documents)."""
        blocks = _blocks(texts, _BLOCK_DOCS)
        if parallel and self.config.n_process > 1:
            for block_result in self._worker_pool().imap(_worker_analyze, blocks):
                yield from block_result
            return
        for block in blocks:
            yield from self._analyze_block(block)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    # -- internals ----------------------------------------------------------------------------------------
    def _analyze_block(self, texts: list[str]) -> list[list[PIIEntity]]:
        for text in texts:
            if not isinstance(text, str):
                raise PIIError(f"expected text (str), got {type(text).__name__}")
        pieces: list[tuple[int, Any]] = []  # (document index, chunk)
        for index, text in enumerate(texts):
            if text.strip():
                pieces.extend((index, chunk) for chunk in plan_chunks(text, self.config.chunk_chars,
                                                                       self.config.chunk_overlap))
        candidates: list[list[Candidate]] = [[] for _ in texts]
        language = self.config.language
        with self._nlp.memory_zone():
            piece_texts = (texts[i][chunk.start:chunk.end] for i, chunk in pieces)
            processed = self.nlp_engine.process_batch(piece_texts, language, batch_size=self.config.batch_size)
            for (index, chunk), (piece, artifacts) in zip(pieces, processed, strict=True):
                entities = self._entities_for(piece)
                if not entities:
                    continue
                results = self.engine.analyze(piece, language, entities=entities, nlp_artifacts=artifacts,
                                              score_threshold=0.0)
                document_length = len(texts[index])
                for r in results:
                    start, end = r.start + chunk.start, r.end + chunk.start
                    if keep_in_chunk(chunk, start, end, document_length):
                        from_ner = r.recognition_metadata.get(RECOGNIZER_NAME_KEY) in GAP_FILLERS
                        candidates[index].append(Candidate(r.entity_type, start, end, float(r.score), from_ner))
        return [resolve(text, found, self.config) for text, found in zip(texts, candidates, strict=True)]

    def _entities_for(self, text: str) -> list[str]:
        """Configured entities whose recognizers could possibly fire on ``text`` (a cheap pre-check)."""
        has_digit = any(ch.isdigit() for ch in text)
        chosen = []
        for entity in self.entities:
            if not has_digit and entity not in _NO_DIGIT_OK and entity in _KNOWN_DIGIT_TYPES:
                continue
            needs = _NEEDS.get(entity)
            if needs is not None and not needs.search(text):
                continue
            chosen.append(entity)
        return chosen

    def _worker_pool(self) -> Any:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # no fork of a process that may hold torch threads
            self._pool = context.Pool(self.config.n_process, initializer=_worker_init,
                                      initargs=(self.config.with_changes(n_process=1),))
            atexit.register(self.close)
        return self._pool


def _compile_patterns(recognizers: Iterable[Any]) -> None:
    """Compile Presidio's pattern regexes now (model-load time): the ``regex`` module takes up to a third of a
    second for its larger patterns, which Presidio otherwise pays on the first document that needs them."""
    import regex

    for recognizer in recognizers:
        flags = getattr(recognizer, "global_regex_flags", None)
        for pattern in getattr(recognizer, "patterns", None) or []:
            if flags is not None and not getattr(pattern, "compiled_regex", None):
                pattern.compiled_with_flags = flags
                pattern.compiled_regex = regex.compile(pattern.regex, flags=flags)


def _lean_enhancer() -> Any:
    """Presidio's lemma context enhancer, asked only about results whose recognizer has context words.

    The stock enhancer deep-copies every result of every document before looking at any of them; most results
    (NER, our recognizers, which score context themselves) have no context words, so that copy was about a
    sixth of the analysis time. Results it would skip are passed through untouched.
    """
    from presidio_analyzer import RecognizerResult
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    class LeanLemmaContextAwareEnhancer(LemmaContextAwareEnhancer):
        def enhance_using_context(self, text: str, raw_results: list[Any], nlp_artifacts: Any,
                                  recognizers: list[Any], context: list[str] | None = None) -> list[Any]:
            with_context = {r.id for r in recognizers if r.context}
            key = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
            asked = [r for r in raw_results if (r.recognition_metadata or {}).get(key) in with_context]
            if not asked:
                return list(raw_results)
            kept = [r for r in raw_results if (r.recognition_metadata or {}).get(key) not in with_context]
            return kept + super().enhance_using_context(text, asked, nlp_artifacts, recognizers, context)

    return LeanLemmaContextAwareEnhancer(context_prefix_count=6, context_suffix_count=1)


# Types found only by digit-bearing patterns (deny-list types are not here: their terms may be words).
_KNOWN_DIGIT_TYPES = {"ADDRESS", "POSTAL_CODE", "AGE", "DATE_OF_BIRTH", "PHONE_NUMBER", "IP_ADDRESS",
                      "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN", "US_BANK_NUMBER", "US_DRIVER_LICENSE",
                      "PASSPORT", "UK_NHS", "MEDICAL_LICENSE", "CRYPTO"}


def _blocks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(texts)
    while block := list(islice(iterator, size)):
        yield block


_worker_analyzer: PIIAnalyzer | None = None


def _worker_init(config: PIIConfig) -> None:
    global _worker_analyzer
    _worker_analyzer = PIIAnalyzer(config)


def _worker_analyze(texts: list[str]) -> list[list[PIIEntity]]:
    assert _worker_analyzer is not None
    return _worker_analyzer._analyze_block(texts)


@lru_cache(maxsize=4)
def get_analyzer(config: PIIConfig | None = None) -> PIIAnalyzer:
    """The process-wide analyzer for ``config`` (loading the model takes seconds; analysing takes ms)."""
    return PIIAnalyzer(config or PIIConfig())
