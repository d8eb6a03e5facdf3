"""Presidio's defaults on the same small spaCy model: the reference every benchmark compares against.

``AnalyzerEngine()`` with its default recognizers and default NER configuration, except the model name (the
default ``en_core_web_lg`` is not installed; swapping the model is exactly what a user of the defaults does).
"""

from __future__ import annotations

from typing import Any

import yaml

from detect.pii.config import DEFAULT_MODEL
from detect.pii.offline import force_tldextract_offline


def presidio_default_nlp_configuration(model: str = DEFAULT_MODEL) -> dict[str, Any]:
    from importlib.resources import files

    config = yaml.safe_load(files("presidio_analyzer").joinpath("conf/default.yaml").read_text())
    config["models"] = [{"lang_code": "en", "model_name": model}]
    return config


def presidio_default_analyzer(model: str = DEFAULT_MODEL) -> Any:
    """A fresh ``AnalyzerEngine`` with Presidio's default registry; call ``analyze(text, language="en")``."""
    force_tldextract_offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp_engine = NlpEngineProvider(nlp_configuration=presidio_default_nlp_configuration(model)).create_engine()
    return AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
