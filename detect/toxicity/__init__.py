"""Toxicity (misuse) signals: a hashed n-gram classifier with obfuscation-robust normalisation.

Library only (no settings, no database): ``provenance.toxicity`` wires it to the platform. See
``normalize`` (why each step), ``model`` (scoring rules), ``training`` (threshold and card), ``evaluation``
(cross-source and bias tables) and ``bundle`` (on-disk format).
"""

from detect.toxicity.bundle import ToxicityBundle, load_toxicity_bundle, read_toxicity_card, save_toxicity_bundle
from detect.toxicity.data import ToxicityData, read_toxicity_data
from detect.toxicity.model import ToxicityModel, ToxicityScore
from detect.toxicity.normalize import normalize_toxicity
from detect.toxicity.training import train_toxicity_bundle

__all__ = ["ToxicityBundle", "ToxicityData", "ToxicityModel", "ToxicityScore",
           "load_toxicity_bundle", "normalize_toxicity", "read_toxicity_card",
           "read_toxicity_data", "save_toxicity_bundle", "train_toxicity_bundle"]
