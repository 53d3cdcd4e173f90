"""MNIST: log-likelihood and classification versus lambda (Kingma & LeCun 2010, Figure 2a-c).

A square product of Student-t experts (196 experts on 14x14 = 196 pixels, ``alpha = 1``) is trained by
regularized score matching for a sweep of ``lambda``, in two parameterizations of the filters:

``free``
    Unconstrained filters ``W``. The SM loss then fixes the filters' scale; with ``alpha = 1`` and a
    normalized expert the model is exactly normalized, ``Z = |det W|^{-1}``, so this is the model whose
    likelihood the paper's formula gives. At ``lambda = 0`` the loss is unbounded below on MNIST (a filter
    on always-black pixels gains curvature ``c^2 |w|^2`` for free), so that model diverges slowly.
``unit``
    Unit-norm filters (as in Hyvarinen 2005 and the SPEC's PoE). With ``alpha = 1`` the model then has no
    free scale: the expert width ``sqrt(2)/c`` is fixed in pixel units, which limits the likelihood.

For every model the exact average log-likelihood of the training and test sets is computed with
:meth:`~scorematch.ProductOfExperts.log_likelihood` (float64), and the features ``g(w_i^T x)`` feed a
logistic-regression classifier trained on 100 random training digits per class (several draws) and
scored on the test set, beside a raw-pixel baseline.

Usage::

    from pathlib import Path
    from scorematch_paper.experiments import mnist
    mnist.run(Path("runs/mnist"), quick=False)   # trains, evaluates, then plots
    mnist.plot(Path("runs/mnist"))               # redraws the figures from the result files
    mnist.summary(Path("runs/mnist"))            # headline numbers

Result files in ``out_dir``: ``config.json``, ``models/<param>_lam<lambda>.safetensors`` (one per model,
loadable with :func:`scorematch.load`; the metadata holds lambda and the training settings),
``training/<param>_lam<lambda>.csv`` (loss and test log-likelihood vs step), ``loglik.csv``,
``classification.csv``, ``long.csv`` (the convergence check: free filters trained longer, files with a
``_long`` suffix), ``results.json`` and the figures ``filters.png``, ``loglik.png``, ``classification.png``,
``training.png``.

Modules: ``config`` (:class:`MnistConfig`), ``model`` (data, training, the two measures), ``compute`` (the
cached sweep and evaluations), ``summaries``, ``figures``, ``report``.
"""

from scorematch_paper.experiments.mnist.compute import run
from scorematch_paper.experiments.mnist.config import PAPER_BEST_LAM, PARAMETERIZATIONS, TITLE, MnistConfig
from scorematch_paper.experiments.mnist.figures import plot
from scorematch_paper.experiments.mnist.model import (
    MnistData,
    average_log_likelihood,
    classification_error,
    expert_features,
    load_data,
    train_model,
)
from scorematch_paper.experiments.mnist.report import report
from scorematch_paper.experiments.mnist.summaries import summary

__all__ = [
    "MnistConfig",
    "MnistData",
    "PARAMETERIZATIONS",
    "PAPER_BEST_LAM",
    "load_data",
    "train_model",
    "average_log_likelihood",
    "expert_features",
    "classification_error",
    "run",
    "plot",
    "summary",
    "report",
    "TITLE",
]
