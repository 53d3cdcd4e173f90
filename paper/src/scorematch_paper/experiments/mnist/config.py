"""The MNIST experiment's settings (:class:`MnistConfig`, with a ``quick()`` form)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from scorematch.config import Settings, TrainConfig

TITLE = "MNIST: log-likelihood and classification versus lambda (Figure 2a-c)"


#: The paper's reported optimum for MNIST (Figure 2b, c), marked on our plots.
PAPER_BEST_LAM = 0.01


#: Filter parameterizations: name -> ``normalize_filters``.
PARAMETERIZATIONS = {"free": False, "unit": True}


_FULL_LAMBDAS = (0.0, 1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1, 3e-1)


@dataclass(frozen=True)
class MnistConfig(Settings):
    """Settings of the MNIST experiment.

    Attributes
    ----------
    lambdas : tuple of float
        The regularization weights of the sweep.
    parameterizations : tuple of str
        Subset of ``("free", "unit")``.
    n_train : int
        Training digits (a seeded random subset of the 60,000) used to fit every model, and on which the
        training log-likelihood is reported.
    n_test : int
        Test digits (the first ``n_test`` of the 10,000) for the log-likelihood and the classification error.
    steps, batch_size, lr, schedule : int, int, float, str
        Adam on minibatches drawn with replacement, cosine learning-rate decay to ``lr / 100``.
    log_every : int
        Steps between rows of the training curves (loss and test log-likelihood).
    n_curve : int
        Test digits used for the log-likelihood in the training curves.
    per_class : int
        Training digits per class for the classifier.
    n_draws : int
        Independent draws of those digits.
    clf_c : float
        Inverse L2 penalty of the logistic regression (features standardized on the 1,000 training
        digits). The same value for every model and for the raw-pixel baseline.
    seed : int
        Seeds the training subset, the initial filters (the same for every lambda) and the minibatches.
    long_lambdas : tuple of float
        A convergence check: free-filter models at these lambdas are also trained for ``long_steps``
        (same schedule shape, stretched) and evaluated the same way.
    long_steps : int
    """

    lambdas: tuple[float, ...] = _FULL_LAMBDAS
    parameterizations: tuple[str, ...] = ("free", "unit")
    n_train: int = 20000
    n_test: int = 10000
    steps: int = 2000
    batch_size: int = 500
    lr: float = 1e-2
    schedule: str = "cosine"
    log_every: int = 50
    n_curve: int = 2000
    per_class: int = 100
    n_draws: int = 5
    clf_c: float = 0.1
    seed: int = 0
    long_lambdas: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2, 2e-2)
    long_steps: int = 6000

    def __post_init__(self) -> None:
        self.check_ints(n_train=1, n_test=1, steps=1, batch_size=1, log_every=1, n_curve=1, per_class=1, n_draws=1,
                         seed=0, long_steps=1)
        self.check_numbers(lr=0.0, clf_c=0.0, strict=True)
        if not self.lambdas or any(not lam >= 0 for lam in self.lambdas + self.long_lambdas):
            raise ValueError(f"lambdas must be a non-empty tuple of values >= 0 (long_lambdas too), got {self.lambdas}"
                             f" and {self.long_lambdas}")
        unknown = set(self.parameterizations) - set(PARAMETERIZATIONS)
        if unknown or not self.parameterizations:
            raise ValueError(f"parameterizations must be a subset of {tuple(PARAMETERIZATIONS)}")
        if self.n_train > 60000 or self.n_test > 10000:
            raise ValueError("n_train must be in [1, 60000] and n_test in [1, 10000]")

    @classmethod
    def quick(cls) -> "MnistConfig":
        """A smoke-test configuration (tens of seconds): two lambdas, short training, fewer digits."""
        return cls(lambdas=(0.0, 1e-2), n_train=5000, n_test=2000, steps=400, log_every=50, n_curve=500,
                   n_draws=2, long_lambdas=(1e-2,), long_steps=800)

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, optimizer="adam", lr=self.lr,
                           schedule=self.schedule, seed=self.seed, log_every=self.log_every, checkpoint_every=0)

    def long(self) -> "MnistConfig":
        """The configuration of the convergence check (``steps = long_steps``)."""
        return dataclasses.replace(self, steps=self.long_steps)

TRAIN_FIELDS = ("n_train", "steps", "batch_size", "lr", "schedule", "seed")


LABELS = {"free": "free filters", "unit": "unit-norm filters"}
