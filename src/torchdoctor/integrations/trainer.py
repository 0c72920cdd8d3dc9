"""Trainer integration: :class:`DoctorCallback` runs a Doctor inside :class:`torchdoctor.train.Trainer`.

Usage::

    from torchdoctor import Doctor
    from torchdoctor.integrations.trainer import DoctorCallback
    from torchdoctor.train import Trainer

    trainer = Trainer(cfg)
    doctor = Doctor(trainer.model, trainer.optimizer)
    trainer.callbacks.append(DoctorCallback(doctor))
    trainer.fit()
    doctor.close()

Only the Doctor's public API is used: ``Doctor.step`` after each backward pass and
``Doctor.observe`` with each epoch's metrics.
"""

from __future__ import annotations

from typing import Any

import torch

from torchdoctor.train.callbacks import Callback

__all__ = ["DoctorCallback"]


class DoctorCallback(Callback):
    """Trainer callback that feeds every training step and every epoch's metrics to a Doctor.

    Args:
        doctor: an attached ``td.Doctor`` (created on the trainer's model and optimizer).
    """

    def __init__(self, doctor: Any) -> None:
        self.doctor = doctor

    def on_after_backward(self, trainer: Any, *, loss: torch.Tensor, inputs: torch.Tensor,
                          targets: torch.Tensor, outputs: torch.Tensor) -> None:
        self.doctor.step(loss, inputs=inputs, targets=targets, outputs=outputs)

    def on_validation_end(self, trainer: Any, *, metrics: dict[str, Any]) -> None:
        self.doctor.observe(**{k: v for k, v in metrics.items()
                               if isinstance(v, (int, float)) and k not in ("epoch", "step")})

    def state_dict(self) -> dict[str, Any]:
        return self.doctor.state_dict() if hasattr(self.doctor, "state_dict") else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if hasattr(self.doctor, "load_state_dict"):
            self.doctor.load_state_dict(state)
