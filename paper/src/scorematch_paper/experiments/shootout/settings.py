"""The shoot-out's settings: the estimators, the deep energy's recipe and the CPU budgets (:class:`ShootoutConfig`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from scorematch.config import Settings
from scorematch.estimators import denoising_score_matching_loss, score_matching_loss, sliced_score_matching_loss

#: The estimators compared: name -> loss of one noise level (run across levels by ``noise_conditional_loss``).
ESTIMATORS = {
    "dsm": denoising_score_matching_loss,
    "ssm": sliced_score_matching_loss,
    "sm-curvature": functools.partial(score_matching_loss, method="curvature"),
    "sm-hutchinson": functools.partial(score_matching_loss, method="hutchinson", n_probes=1),
}
#: Noise levels (1/256) of the validation PSNR.
LEVELS = (15, 25)


@dataclass(frozen=True)
class ShootoutConfig(Settings):
    """Settings of the estimator shoot-out: the full run by default, :meth:`quick` the smoke test.

    Every estimator trains the same :class:`~scorematch.energies.DeepEnergy` (``channels``, ``depth``,
    ``kernel_size``; the bundled ``deep_energy``'s) on ``patch`` x ``patch`` patches of the training nine tenths of
    Train400, Adam (``lr``, batch ``batch``) with a cosine schedule over the run, for each budget of ``minutes``: its
    steps are the budget over its step time, measured by a ``calibration_steps`` run first. Held-out images:
    the first ``heldout_limit`` (None: all 41), cropped to ``heldout_crop`` (None: whole).
    """

    minutes: tuple[float, ...] = (5.0, 15.0, 60.0)
    estimators: tuple[str, ...] = tuple(ESTIMATORS)
    calibration_steps: int = 40
    channels: int = 32
    depth: int = 4
    kernel_size: int = 3
    patch: int = 40
    batch: int = 32
    lr: float = 1e-3
    seed: int = 0
    heldout_limit: int | None = None
    heldout_crop: int | None = None

    def __post_init__(self) -> None:
        self.check_ints(calibration_steps=1, channels=1, depth=1, kernel_size=1, patch=2, batch=1, seed=0)
        self.check_numbers(lr=0.0, strict=True)
        if not self.minutes or any(not m > 0 for m in self.minutes):
            raise ValueError(f"minutes must be positive budgets, got {self.minutes}")
        unknown = set(self.estimators) - set(ESTIMATORS)
        if unknown or not self.estimators:
            raise ValueError(f"estimators must be among {tuple(ESTIMATORS)}, got {self.estimators}")

    @classmethod
    def quick(cls) -> "ShootoutConfig":
        """The smoke test (seconds): a small energy, a few seconds per estimator, two validation crops."""
        return cls(minutes=(0.02,), calibration_steps=5, channels=4, depth=2, patch=16, batch=4, heldout_limit=2,
                   heldout_crop=48)

    @property
    def arch(self) -> dict[str, int]:
        return {"channels": self.channels, "depth": self.depth, "kernel_size": self.kernel_size}
