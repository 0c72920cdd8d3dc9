"""The config-driven trainer: config schema → data → model → optimizer → training loop."""

from torchdoctor.train.callbacks import HOOKS, Callback
from torchdoctor.train.config import Config, ConfigError, load_config
from torchdoctor.train.models import build_model
from torchdoctor.train.trainer import EVENTS, Trainer, TrainResult

__all__ = ["EVENTS", "HOOKS", "Callback", "Config", "ConfigError", "TrainResult", "Trainer",
           "build_model", "load_config"]
