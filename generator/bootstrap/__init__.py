"""Train the platform's own GPT-2 when no pretrained weights can be reached."""

from generator.bootstrap.presets import PRESETS, Preset, get_preset
from generator.bootstrap.trainer import BootstrapResult, TrainingProgress, train_bootstrap_model

__all__ = ["PRESETS", "BootstrapResult", "Preset", "TrainingProgress", "get_preset", "train_bootstrap_model"]
