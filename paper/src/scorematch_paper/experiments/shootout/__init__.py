"""The estimator shoot-out (issue 38): each score-matching estimator on two noise-conditional energies, for the
same CPU time.

Per architecture of :class:`ShootoutConfig` (a deep energy, and a one-layer Field of Experts where the curvature
rule is exact) and estimator of :data:`~.settings.ESTIMATORS` (denoising SM, sliced SM, regularized SM with
Algorithm 1's curvature and with Hutchinson's estimate, each at lambda = 0 and at a lambda > 0, and CD-1): the
learning rate and lambda chosen on the tuning crops, then one run per seed that stops on its measured CPU time
(:mod:`.timed`) with a snapshot every few minutes, each scored on the validation images (Tweedie, MAP, the exact
score-matching loss) beside the bundled priors.

``run(out_dir, quick=...)`` computes (each choice and row a cached unit keyed on the units' own code,
:func:`rows_cache`; an interrupted training run resumes), ``publish`` writes the table of the units done so far,
``plot`` draws from ``shootout.json``, ``report``
returns the markdown section, ``summary`` the table. The full run trains for many CPU hours, spread over sessions.

Modules: ``config``, ``settings`` (the estimators), ``recipe`` (the training run), ``timed`` (its CPU budget), ``scoring``, ``units`` (train and score one run), ``compute``,
``summaries``, ``figures``, ``report``.
"""

from scorematch_paper.experiments.shootout.compute import publish, rows_cache, run
from scorematch_paper.experiments.shootout.figures import plot
from scorematch_paper.experiments.shootout.recipe import train_deep_energy
from scorematch_paper.experiments.shootout.report import report
from scorematch_paper.experiments.shootout.config import ShootoutConfig
from scorematch_paper.experiments.shootout.settings import ESTIMATORS, LEVELS, REGULARIZED
from scorematch_paper.experiments.shootout.summaries import summary

TITLE = "Beyond the paper: the estimator shoot-out"

__all__ = ["run", "publish", "rows_cache", "plot", "report", "summary", "TITLE", "ShootoutConfig", "ESTIMATORS",
           "REGULARIZED", "LEVELS", "train_deep_energy"]
