"""The beyond-the-paper stage's settings (:class:`BeyondConfig`): which images, which priors, which choice grids."""

from __future__ import annotations

from dataclasses import dataclass

from scorematch.config import Settings

#: The bundled FoEs the stage compares: the grey one (also per channel on colour) and the colour one.
DEFAULT_PRIOR = "foe_5x5x24"
DEFAULT_COLOUR_PRIOR = "foe_colour_5x5x24"

#: The grey problems, in report order: key -> (what it is, its anchor).
GREY_PROBLEMS = {
    "deblur": ("deblurring, motion kernels 13-27 px, noise 0.01, periodic", "wiener"),
    "inpaint": ("inpainting, 50 % random pixels missing, no noise", "biharmonic"),
    "superres_2x": ("super-resolution 2x (block average)", "bicubic"),
    "superres_3x": ("super-resolution 3x (block average)", "bicubic"),
    "superres_4x": ("super-resolution 4x (block average)", "bicubic"),
    "table2_superres_2x": ("super-resolution 2x of the five Table 2 images (whole)", "bicubic"),
}
#: The grey problem whose test images are the paper's Table 2 images (whole), not validation crops.
TABLE2_PROBLEM = "table2_superres_2x"
#: Colour denoising: our colour prior, then the others it is compared with; beside them each grey prior of the
#: settings on the opponent channels (``opponent_<prior>``, :func:`colour_methods`).
COLOUR_METHODS = ("colour_prior", "grey_per_channel", "cbm3d", "tv")
#: Prefix of a colour method that denoises the opponent channels with a grey prior
#: (:func:`scorematch.tasks.denoise` with the prior's presets).
OPPONENT = "opponent_"
#: Prefix of a colour method that denoises the colour image whole with a colour prior and its presets, as
#: ``scorematch denoise`` runs it (``whole_<prior>``, the priors of ``colour_priors``).
WHOLE = "whole_"
#: Method -> how the report names it.
METHOD_NAMES = {
    "wiener": "Wiener deconvolution", "biharmonic": "biharmonic inpainting", "bicubic": "bicubic + projection",
    "colour_prior": f"colour prior `{DEFAULT_COLOUR_PRIOR}`", "grey_per_channel": f"`{DEFAULT_PRIOR}` per channel",
    "cbm3d": "colour BM3D", "tv": "TV (Chambolle)",
}


def colour_methods(priors: tuple[str, ...], colour_priors: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The colour denoising methods with the grey ``priors`` and the ``colour_priors``: ours (the colour FoE, each
    colour prior whole, each grey prior on the opponent channels), then the others."""
    return (COLOUR_METHODS[0], *(WHOLE + p for p in colour_priors), *(OPPONENT + p for p in priors),
            *COLOUR_METHODS[1:])


def method_name(method: str) -> str:
    """How the report names ``method``."""
    if method.startswith(OPPONENT):
        return f"`{method.removeprefix(OPPONENT)}` on opponent channels"
    if method.startswith(WHOLE):
        return f"`{method.removeprefix(WHOLE)}` (colour)"
    return METHOD_NAMES.get(method, method)


@dataclass(frozen=True)
class BeyondConfig(Settings):
    """Settings of the beyond-the-paper stage: the full run by default, :meth:`quick` the smoke test.

    Grey problems (:data:`GREY_PROBLEMS`): central ``grey_crop`` crops of the first ``grey_images`` validation images
    (:func:`~scorematch_paper.experiments.restoration.heldout_images`), and 2x super-resolution of the paper's Table 2
    images (:data:`~scorematch_paper.experiments.restoration.TABLE2_IMAGES`; whole, or central ``table2_crop`` crops),
    each bundled prior of ``priors`` against the problem's anchor; every choice is made on the same crops of the
    tuning images (:data:`~scorematch_paper.experiments.restoration.TUNE_IMAGES`): the FoE's prior weight for deblurring
    (``weights``) and its inpainting iterations (``inpaint_iters``), the noise-conditional energy's level (1/256)
    of ``E_s`` per problem (``deep_levels``, ``deep_inpaint_iters`` iterations when inpainting), Wiener's balance
    (``balances``).
    Deblurring noise: ``blur_noise``.

    Colour denoising at ``colour_levels`` (1/256) on central ``colour_crop`` crops of the first ``colour_images``
    validation colour images (:func:`~scorematch.datasets.colour_split`; None: all 20 / whole images): the bundled
    colour prior and the grey prior per channel at their cards' weights, each of ``priors`` on the opponent
    channels as ``scorematch denoise`` runs it, colour BM3D, and TV with its weight
    (``tv_weights``) chosen per level on ``colour_tune_crop`` crops of the colour tuning images.
    """

    grey_images: int | None = 10
    grey_crop: int = 120
    table2_crop: int | None = None
    priors: tuple[str, ...] = (DEFAULT_PRIOR, "deep_energy", "unet")
    colour_priors: tuple[str, ...] = ("unet_colour",)
    blur_noise: float = 0.01
    weights: tuple[float, ...] = (0.06, 0.12, 0.25, 0.5, 1.0)
    balances: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    inpaint_iters: tuple[int, ...] = (80, 200, 500)
    deep_levels: tuple[float, ...] = (2, 3, 5, 8, 12)
    deep_inpaint_iters: int = 300
    colour_images: int | None = None
    colour_crop: int | None = 256
    colour_tune_crop: int = 128
    colour_levels: tuple[int, ...] = (5, 15, 25)
    tv_weights: tuple[float, ...] = (0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16)

    def __post_init__(self) -> None:
        self.check_ints(grey_crop=12, deep_inpaint_iters=1, colour_tune_crop=12)
        self.check_numbers(blur_noise=0.0, strict=True)
        if self.table2_crop is not None:
            self.check_ints(table2_crop=12)
            if self.table2_crop % 2:
                raise ValueError(f"table2_crop must be even (2x super-resolution), got {self.table2_crop}")
        if self.grey_crop % 12:
            raise ValueError(f"grey_crop must be divisible by 3 and 4 (super-resolution), got {self.grey_crop}")
        for name in ("priors", "weights", "balances", "inpaint_iters", "deep_levels", "colour_levels", "tv_weights"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")

    @classmethod
    def quick(cls) -> "BeyondConfig":
        """The smoke test (seconds): two small crops per set, one prior, grids of one or two values."""
        return cls(grey_images=2, grey_crop=48, table2_crop=48, priors=(DEFAULT_PRIOR,), colour_priors=(),
                   weights=(0.25, 0.5),
                   balances=(1e-2, 1e-1), inpaint_iters=(40,), colour_images=2, colour_crop=48, colour_tune_crop=48,
                   colour_levels=(15,), tv_weights=(0.04, 0.08))

    @property
    def grey_fields(self) -> tuple[str, ...]:
        """The fields the grey problems depend on."""
        return ("grey_images", "grey_crop", "table2_crop", "blur_noise", "weights", "balances", "inpaint_iters",
                "deep_levels", "deep_inpaint_iters")

    @property
    def colour_fields(self) -> tuple[str, ...]:
        """The fields colour denoising depends on."""
        return ("colour_images", "colour_crop", "colour_tune_crop", "tv_weights")
