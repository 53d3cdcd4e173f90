"""Figure 2d: exact held-out log-likelihood of natural-image patches versus lambda (square PoE).

A square Product of Student-t experts (8x8 patches, D = M = 64, ``alpha = 1``, ``c = e^1.5``) is fit by
regularized score matching for each lambda of a sweep; its exact log-likelihood
``log|det W| - sum_i g_n(w_i^T x)`` is averaged over 10,000 random patches of held-out images, on the
[0, 1] pixel scale (nats per patch).

The paper found the optimum near ``lambda = 1e-5`` and a clear drop towards ``lambda = 0``. The paper
does not say how the data were prepared or how long the models were trained, so the sweep is run
under several *conditions*, each a change of one thing against the ``baseline`` (see
:data:`CONDITIONS`): free or unit-norm filters, quantized (8-bit) or dequantized training data,
flat/saturated patches kept or removed, patch size, training length/optimizer, and BSDS JPEG sources
converted to gray in float or rounded to 8 bits. Every model is also scored on *dequantized* test patches
(one uniform grey level of noise added), which a continuous density can be fairly judged on, and a
full-covariance Gaussian fit to the same training patches is the reference line.

Models are trained with full-batch L-BFGS on a fixed set of training patches (5,000; 30 L-BFGS steps of 20
iterations), so that differences between lambdas reflect the objective rather than minibatch noise. The
SM objective of this model is hard to optimize: from random filters L-BFGS stops far from its optimum (the
ML fit has a *lower* SM objective than such a run), so the baseline starts from the ZCA whitening matrix,
and two more initializations (``random_init``; ``continuation`` from the next smaller lambda's fit) are
run on the same data. :func:`selected_by_objective` then keeps, per lambda, the fit with the lowest
*training* objective, the actual regularized-SM estimate. The held-out log-likelihood is also recorded
along training (``curve`` in each run's JSON) to show the effect of training length, and every fit records
the unregularized SM objective on its training patches (``sm_objective``).

``run(out_dir, quick=...)`` computes (resumable: one JSON per model), ``plot(out_dir)`` draws the figures
from the result files, ``summary(out_dir)`` returns the headline table.

Modules: ``conditions`` (the sweep's settings), ``fit`` (data and one fit), ``compute`` (the cached fits of the
plan), ``summaries``, ``figures``, ``report``.
"""

from scorematch_paper.experiments.patches.compute import run
from scorematch_paper.experiments.patches.conditions import CONDITIONS, LAMBDAS, PAPER_BEST_LAM, PLAN, TITLE, Condition
from scorematch_paper.experiments.patches.figures import plot
from scorematch_paper.experiments.patches.fit import prepare_data, train_and_score
from scorematch_paper.experiments.patches.report import report
from scorematch_paper.experiments.patches.summaries import selected_by_objective, summary

__all__ = ["Condition", "CONDITIONS", "LAMBDAS", "PLAN", "PAPER_BEST_LAM", "TITLE", "run", "plot", "summary", "report",
           "prepare_data",
           "train_and_score", "selected_by_objective"]
