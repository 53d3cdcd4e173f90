"""Training: :func:`fit`, one generic loop used by every experiment, assembled from small parts: the run
directory (:mod:`~scorematch.train.run_dir`), the step parts (:mod:`~scorematch.train.steps`) and what stops a
run (:mod:`~scorematch.train.guards`)."""

from .fit import FitResult, fit
from .guards import DivergenceError, TrainingInterrupted
from .run_dir import CHECKPOINT, MODEL, RESUME_MAY_CHANGE, RunDirectory, check_resumable
from .steps import DataStream

__all__ = ["fit", "FitResult", "DivergenceError", "TrainingInterrupted", "DataStream", "RunDirectory",
           "check_resumable", "CHECKPOINT", "MODEL", "RESUME_MAY_CHANGE"]
