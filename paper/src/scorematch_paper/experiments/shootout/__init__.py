"""The estimator shoot-out (issue 17): one deep energy, one CPU budget, each score-matching estimator.

For every estimator of :data:`~.settings.ESTIMATORS` (denoising SM, sliced SM, regularized SM with Algorithm 1's
curvature and with Hutchinson's estimate) and every budget of :class:`ShootoutConfig` (5, 15 and 60 minutes by
default), one run of the deep energy's recipe (:func:`~.recipe.train_deep_energy`, the bundled ``deep_energy``'s)
whose steps fill the budget, then its validation PSNR at 15 and 25/256 beside the bundled priors'.

``run(out_dir, quick=...)`` computes (each row a cached unit keyed on the rows' own code, :func:`rows_cache`, so
that edits elsewhere in the package keep them; an interrupted training run resumes), ``plot`` draws from
``shootout.json``, ``report`` returns the markdown section, ``summary`` the table. The full run trains for
4 x 80 CPU minutes, so it may be spread over several sessions.

Modules: ``settings``, ``recipe`` (the training run), ``compute``, ``summaries``, ``figures``, ``report``.
"""

from scorematch_paper.experiments.shootout.compute import rows_cache, run
from scorematch_paper.experiments.shootout.figures import plot
from scorematch_paper.experiments.shootout.recipe import train_deep_energy
from scorematch_paper.experiments.shootout.report import report
from scorematch_paper.experiments.shootout.settings import ESTIMATORS, LEVELS, ShootoutConfig
from scorematch_paper.experiments.shootout.summaries import summary

TITLE = "Beyond the paper: the estimator shoot-out on a deep energy"

__all__ = ["run", "rows_cache", "plot", "report", "summary", "TITLE", "ShootoutConfig", "ESTIMATORS", "LEVELS",
           "train_deep_energy"]
