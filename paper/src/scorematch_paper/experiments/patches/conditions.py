"""The patch experiment's settings: the lambda sweep, the data and training :class:`Condition` s, the default plan."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from scorematch.config import Settings

#: The lambda sweep: the paper's Figure 2d axis (1e-7 .. 1e-2), plus 0 and two larger values, because on
#: the [0, 1] scale the measured optimum lies above 1e-2 for 8-bit data.
LAMBDAS: tuple[float, ...] = (0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


QUICK_LAMBDAS: tuple[float, ...] = (0.0, 1e-5, 1e-3)


#: The bundled sample of BSDS300 training JPEGs (colour), used by the ``jpeg_*`` conditions.
JPEG_SAMPLE = "bsds300-sample"


@dataclass(frozen=True)
class Condition(Settings):
    """How the data are prepared and the model is trained for one lambda sweep.

    Attributes
    ----------
    name : str
    source : str
        ``"train400"`` (8-bit gray PNGs), ``"bsds300-sample"`` (colour JPEGs) or a folder.
    patch_size : int
    normalize_filters : bool
        Unit-norm filters (then, with ``alpha = 1``, the model has no free scale).
    quantize8 : bool
        Round gray values to multiples of 1/255 after loading (what an 8-bit gray conversion does;
        the PNGs are already quantized, the JPEGs' float luma is not).
    dequantize_train : bool
        Add uniform noise of one grey level, ``(u - 1/2) / 255``, to the training patches.
    drop_flat : bool
        Remove training patches that contain a saturated pixel (0 or 1) or are exactly constant.
    optimizer : str
        ``"lbfgs"`` (full batch) or ``"adam"`` (minibatches of 100, cosine schedule).
    steps : int
        L-BFGS outer steps (20 iterations each) or Adam steps.
    lr : float
    n_train : int
        Training patches (drawn once, with a fixed seed).
    holdout : float
        Fraction of the images held out for the test patches.
    init : str
        Initial filters: ``"random"`` (Gaussian rows of norm about 1), ``"zca"`` (the ZCA whitening
        matrix ``C^{-1/2}`` of the training patches, scaled by ``init_scale``) or ``"continuation"``
        (the model of the next smaller lambda of the same sweep; ZCA for the smallest).
    init_scale : float
    """

    name: str
    source: str = "train400"
    patch_size: int = 8
    normalize_filters: bool = False
    quantize8: bool = False
    dequantize_train: bool = False
    drop_flat: bool = False
    optimizer: str = "lbfgs"
    steps: int = 30
    lr: float = 1.0
    n_train: int = 5_000
    holdout: float = 0.1
    init: str = "random"
    init_scale: float = 1.0

    def __post_init__(self) -> None:
        self.check_ints(patch_size=2, steps=1, n_train=1)
        self.check_numbers(lr=0.0, holdout=0.0, init_scale=0.0, strict=True)
        self.check_choice("optimizer", ("lbfgs", "adam"))
        self.check_choice("init", ("random", "zca", "continuation"))

    def key(self) -> str:
        d = dataclasses.asdict(self)
        if d["init"] == "random" and d["init_scale"] == 1.0:  # keys of runs made before these fields existed
            del d["init"], d["init_scale"]
        blob = json.dumps(d, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


_BASE = Condition("baseline", init="zca")


#: The conditions: each changes one thing against ``baseline`` (Train400 8-bit PNGs, 8x8, free filters,
#: ZCA-initialized, full-batch L-BFGS).
CONDITIONS: tuple[Condition, ...] = (
    _BASE,
    dataclasses.replace(_BASE, name="dequantized_train", dequantize_train=True),
    dataclasses.replace(_BASE, name="no_flat_or_saturated", drop_flat=True),
    dataclasses.replace(_BASE, name="normalized_filters", normalize_filters=True),
    dataclasses.replace(_BASE, name="jpeg_float_gray", source=JPEG_SAMPLE, holdout=0.25),
    dataclasses.replace(_BASE, name="jpeg_8bit_gray", source=JPEG_SAMPLE, holdout=0.25, quantize8=True),
    dataclasses.replace(_BASE, name="random_init", init="random"),
    dataclasses.replace(_BASE, name="continuation", init="continuation"),
    dataclasses.replace(_BASE, name="short_adam_random_init", init="random", optimizer="adam", steps=500, lr=0.01),
    dataclasses.replace(_BASE, name="long_lbfgs", steps=150),
    dataclasses.replace(_BASE, name="patch_12x12", patch_size=12),
)


QUICK_CONDITIONS: tuple[Condition, ...] = (
    dataclasses.replace(_BASE, n_train=2000, steps=3),
)


def _cond(name: str) -> Condition:
    return next(c for c in CONDITIONS if c.name == name)


#: The default full run: (condition, lambdas, also fit by maximum likelihood). The baseline sweep is
#: complete; the others use fewer lambdas (about a minute per model on 2 shared CPU cores). The other
#: conditions of :data:`CONDITIONS` are not run by default: pass ``conditions=`` to run them.
PLAN: tuple[tuple[Condition, tuple[float, ...], bool], ...] = (
    (_cond("baseline"), LAMBDAS, True),
    (_cond("dequantized_train"), (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2), False),
    (_cond("random_init"), (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0), False),
    (_cond("continuation"), LAMBDAS, False),
    (_cond("no_flat_or_saturated"), (0.0, 1e-5, 1e-3, 1e-2), False),
    (_cond("normalized_filters"), (0.0, 1e-5, 1e-2), False),
    (_cond("jpeg_float_gray"), (0.0, 1e-5, 1e-3, 1e-2), False),
    (_cond("short_adam_random_init"), (0.0, 1e-6, 1e-5, 1e-4), False),
    (_cond("long_lbfgs"), (0.0, 1e-5), False),
)


TITLE = "Natural-image patches: log-likelihood vs lambda (Figure 2d) and the CD-1 FoE (Figure 2i)"


N_TEST = 10_000


QUICK_N_TEST = 2000


#: The paper's reported optimum for natural-image patches (Figure 2d).
PAPER_BEST_LAM = 1e-5


#: Conditions that fit the same data with the same objective and differ only in the initial filters.
SELECTION_GROUP = ("baseline", "random_init", "continuation")
