"""The config-driven trainer: config schema → data → model → optimizer → training loop."""

from torchdoctor.train._distributed import DistInfo
from torchdoctor.train._distributed import agree as agree_across_ranks
from torchdoctor.train._distributed import current as distributed_info
from torchdoctor.train._distributed import setup as setup_distributed
from torchdoctor.train._distributed import shutdown as shutdown_distributed
from torchdoctor.train.callbacks import HOOKS, Callback
from torchdoctor.train.config import Config, ConfigError, load_config
from torchdoctor.train.models import build_model
from torchdoctor.train.trainer import EVENTS, Trainer, TrainResult

__all__ = ["EVENTS", "HOOKS", "Callback", "Config", "ConfigError", "DistInfo", "TrainResult",
           "Trainer", "agree_across_ranks", "build_model", "distributed_info", "load_config",
           "setup_distributed", "shutdown_distributed"]
