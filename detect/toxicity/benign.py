"""Benign text of many genres, split by document into a CALIBRATE half and a REPORT half.

Why: the generation screen's block thresholds are chosen so that at most ``PROVENANCE_TOXICITY_BLOCK_FPR``
of benign text is blocked. Chosen on tweets and forum sentences only, they blocked one short story in seven
(fiction is full of violence, death and strong words). So the thresholds are calibrated on fiction, dialogue,
encyclopaedic and news prose, forum text and profanity aimed at no one, and the benign block rate is
*reported* per genre on other documents than the ones used to calibrate.

The split is decided here, before any model is built, by a hash of the document id (book file, Wikipedia
article title, news text, forum row): ``split_of(doc_id) == "calibrate"`` or ``"report"``. A book is one
document, so its fiction and dialogue passages stay on one side. Rows of labelled *training* sources used as
benign genres (forum sentences, tweets) take a third value, ``"train"``, for the rows that stay in training;
``training_holdout`` tells the trainer which rows to leave out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SPLIT_SALT = "toxicity-benign-v1"
PASSAGE_WORDS = (120, 260)  # a passage is whole paragraphs, at least 120 and at most ~260 words
MAX_PASSAGES_PER_BOOK = 40  # per genre and book: no single book dominates its genre
MAX_ARTICLES_PER_FILE = 400
# Rows of labelled training sources: 10 hash buckets, 0 calibrates, 1 reports, 2-9 stay in training.
TRAINING_BUCKETS = 10
_QUOTE = re.compile("[\"\u201c\u201d]")


@dataclass(frozen=True)
class BenignPassage:
    genre: str
    document: str  # the id whose hash decides the split
    text: str


def _bucket(doc_id: str, buckets: int) -> int:
    return int(hashlib.sha256(f"{SPLIT_SALT}:{doc_id}".encode()).hexdigest()[:8], 16) % buckets


def split_of(doc_id: str) -> str:
    """``calibrate`` or ``report`` for a document of a benign-only genre (books, articles, news)."""
    return "calibrate" if _bucket(doc_id, 2) == 0 else "report"


def training_split_of(text: str) -> str:
    """``calibrate``, ``report`` or ``train`` for a row of a labelled training source (keyed by its text)."""
    bucket = _bucket(text, TRAINING_BUCKETS)
    return "calibrate" if bucket == 0 else "report" if bucket == 1 else "train"


def _paragraphs(path: Path) -> list[str]:
    return [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]


def _passages(paragraphs: list[str]) -> Iterator[str]:
    """Consecutive paragraphs joined into passages of PASSAGE_WORDS words (longer paragraphs cut)."""
    low, high = PASSAGE_WORDS
    current: list[str] = []
    for paragraph in paragraphs:
        current.extend(paragraph.split())
        if len(current) >= low:
            yield " ".join(current[:high])
            current = []


def book_passages(corpus: Path) -> Iterator[BenignPassage]:
    """Fiction (narrative paragraphs) and dialogue (paragraphs with quotation marks) from the books."""
    for path in sorted(corpus.glob("gutenberg_*.txt")):
        paragraphs = [p for p in _paragraphs(path) if len(p.split()) >= 8]
        dialogue = [p for p in paragraphs if _QUOTE.search(p)]
        narrative = [p for p in paragraphs if not _QUOTE.search(p)]
        for genre, members in (("fiction", narrative), ("dialogue", dialogue)):
            passages = list(_passages(members))
            step = max(len(passages) // MAX_PASSAGES_PER_BOOK, 1)
            for text in passages[::step][:MAX_PASSAGES_PER_BOOK]:
                yield BenignPassage(genre, path.name, text)


def wikipedia_passages(corpus: Path) -> Iterator[BenignPassage]:
    """One passage per article (the article's title is the document)."""
    for path in sorted(corpus.glob("wikipedia_*.txt")):
        articles = [a.strip() for a in path.read_text(encoding="utf-8").split("\n\n\n") if a.strip()]
        step = max(len(articles) // MAX_ARTICLES_PER_FILE, 1)
        for article in articles[::step][:MAX_ARTICLES_PER_FILE]:
            title, _, body = article.partition("\n")
            passage = next(_passages([p for p in body.split("\n") if p.strip()]), None)
            if passage:
                yield BenignPassage("encyclopaedic", f"{path.name}:{title}", passage)


def news_passages(detect_data: Path) -> Iterator[BenignPassage]:
    """Human-written news articles (``label == "human"`` rows of the xsum files), each once."""
    seen: set[str] = set()
    for path in sorted(detect_data.glob("xsum_*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                text = row.get("text")
                if row.get("label") == "human" and isinstance(text, str) and text not in seen:
                    seen.add(text)
                    yield BenignPassage("news", hashlib.sha256(text.encode()).hexdigest(), text)


# Invented, untargeted profanity (nobody is insulted or threatened): exclamation x situation. Written for this
# module; none of it appears in the functional suite (``suite``) or any data file.
_EXCLAMATIONS = ("fuck me", "oh shit", "goddamn it", "bloody hell", "well, crap", "holy fucking hell", "damn",
                 "for fuck's sake", "shit shit shit", "what the hell")
_SITUATIONS = ("the bus left without me again", "i spilled coffee all over my new laptop",
               "the wifi died in the middle of the meeting", "my flight got cancelled at midnight",
               "the dishwasher flooded the kitchen floor", "i forgot my umbrella and it is pouring",
               "the oven timer never went off and dinner is charcoal", "my phone screen cracked on the stairs",
               "the cat knocked the plant off the shelf", "it took four hours to assemble this stupid shelf",
               "the car will not start and i am already late", "i locked my bike and lost the key")


def profanity_passages() -> Iterator[BenignPassage]:
    for exclamation in _EXCLAMATIONS:
        for situation in _SITUATIONS:
            text = f"{exclamation}, {situation}."
            yield BenignPassage("untargeted_profanity", text, text)


def forum_passages(toxicity_data: Path) -> Iterator[BenignPassage]:
    """Non-toxic rows of the forum and tweet sources (their calibrate/report buckets never train)."""
    for name, genre in (("stormfront_degibert2018.jsonl", "forum"), ("davidson2017_hate_offensive.jsonl", "tweets")):
        path = toxicity_data / name
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                if row.get("label") == "non_toxic" and isinstance(row.get("text"), str):
                    yield BenignPassage(genre, row["text"], row["text"])


def benign_passages(shared: Path) -> list[BenignPassage]:
    """Every benign passage available under ``shared`` (``corpus/``, ``data/detect``, ``data/toxicity``)."""
    out: list[BenignPassage] = []
    if (shared / "corpus").is_dir():
        out += list(book_passages(shared / "corpus")) + list(wikipedia_passages(shared / "corpus"))
    if (shared / "data" / "detect").is_dir():
        out += list(news_passages(shared / "data" / "detect"))
    if (shared / "data" / "toxicity").is_dir():
        out += list(forum_passages(shared / "data" / "toxicity"))
    out += list(profanity_passages())
    return out


def passage_split(passage: BenignPassage) -> str:
    """The split of a passage: forum/tweet rows use the training buckets, every other genre the halves."""
    if passage.genre in ("forum", "tweets"):
        return training_split_of(passage.document)
    return split_of(passage.document)


def select(passages: list[BenignPassage], split: str) -> list[BenignPassage]:
    return [p for p in passages if passage_split(p) == split]
