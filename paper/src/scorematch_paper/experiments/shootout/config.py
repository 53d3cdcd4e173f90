"""The shoot-out's configuration (:class:`ShootoutConfig`): the architectures, estimators, budgets, grids, seeds and
scoring sets. Not imported by the units (:mod:`.units`), so a new grid value or budget keeps every unit done."""

from __future__ import annotations

from dataclasses import dataclass

from scorematch.config import Settings
from scorematch_paper.experiments.shootout.settings import ESTIMATORS


@dataclass(frozen=True)
class ShootoutConfig(Settings):
    """Settings of the estimator shoot-out: the full run by default, :meth:`quick` the smoke test.

    Every row trains a noise-conditional :class:`~scorematch.energies.DeepEnergy` of one of ``architectures``
    (``(name, channels, depth, kernel_size)``; depth 1 is a Field of Experts, where the curvature rule is exact) by
    one estimator on ``patch`` x ``patch`` patches of the training nine tenths of Train400, Adam at a constant
    learning rate, batch ``batch``, until it has used ``minutes`` of CPU time (the process's, one torch thread),
    with a snapshot every ``point_minutes``; ``long_minutes`` for the rows of ``long_architectures`` that the
    choices name (the best two, and the regularized curvature row). Each row runs once per seed of ``seeds``.

    Choices, on the tuning crops (``tune_crop``) after ``choice_minutes`` of seed 0: each estimator's learning rate
    from ``lrs``; then at that rate, lambda > 0 of the regularized estimators from ``lams``. Scores: the first
    ``heldout_limit`` (None: all 41) validation images, cropped to ``heldout_crop`` (None: whole); the exact
    score-matching loss on ``loss_patches`` validation patches of side ``loss_patch``.
    """

    architectures: tuple[tuple[str, int, int, int], ...] = (("deep", 32, 4, 3), ("foe", 24, 1, 5))
    estimators: tuple[str, ...] = tuple(ESTIMATORS)
    minutes: float = 15.0
    long_minutes: float = 60.0
    long_architectures: tuple[str, ...] = ("deep",)
    long_rows: int = 2
    point_minutes: float = 2.5
    choice_minutes: float = 2.5
    lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    lams: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    seeds: tuple[int, ...] = (0, 1, 2)
    patch: int = 40
    batch: int = 32
    tune_crop: int = 128
    heldout_limit: int | None = None
    heldout_crop: int | None = None
    loss_patch: int = 24
    loss_patches: int = 16

    def __post_init__(self) -> None:
        self.check_ints(patch=2, batch=1, tune_crop=8, loss_patch=2, loss_patches=1, long_rows=0)
        self.check_numbers(strict=True, minutes=0.0, long_minutes=0.0, point_minutes=0.0, choice_minutes=0.0)
        unknown = set(self.estimators) - set(ESTIMATORS)
        if unknown or not self.estimators:
            raise ValueError(f"estimators must be among {tuple(ESTIMATORS)}, got {self.estimators}")
        names = [a[0] for a in self.architectures]
        if not names or len(set(names)) != len(names) or set(self.long_architectures) - set(names):
            raise ValueError(f"architectures need distinct names, long_architectures among them; got {names}, "
                             f"{self.long_architectures}")
        if not (self.lrs and self.lams and self.seeds) or min(self.lrs) <= 0 or min(self.lams) <= 0:
            raise ValueError("lrs and lams must be positive grids and seeds non-empty")
        if self.choice_minutes > self.minutes or self.minutes > self.long_minutes:
            raise ValueError("budgets must grow: choice_minutes <= minutes <= long_minutes")

    @classmethod
    def quick(cls) -> "ShootoutConfig":
        """The smoke test (seconds): a small deep energy, two estimators, one seed, two validation crops."""
        return cls(architectures=(("deep", 4, 2, 3),), estimators=("dsm", "sm-curvature"), minutes=0.02,
                   long_minutes=0.03, long_rows=1, point_minutes=0.01, choice_minutes=0.01, lrs=(1e-3,), lams=(1e-2,),
                   seeds=(0,), patch=16, batch=4, tune_crop=32, heldout_limit=2, heldout_crop=48, loss_patch=12,
                   loss_patches=2)

    def arch(self, name: str) -> dict[str, int]:
        """The :class:`~scorematch.energies.DeepEnergy` arguments of architecture ``name``."""
        channels, depth, kernel_size = next(a[1:] for a in self.architectures if a[0] == name)
        return {"channels": channels, "depth": depth, "kernel_size": kernel_size}
