"""Beyond the paper (issue 15): colour denoising and the linear inverse problems, our priors beside simple anchors.

Grey problems (:data:`~.settings.GREY_PROBLEMS`): deblurring by camera-shake motion kernels, inpainting of random
missing pixels, super-resolution by 3 and 4; each bundled prior of :class:`BeyondConfig` against Wiener
deconvolution, biharmonic inpainting and bicubic + projection. Colour denoising: the bundled colour prior against
the grey prior per channel, colour BM3D (when the ``bm3d`` package is installed) and colour TV. Every choice is made
on the tuning images; the numbers are on validation ones.

``run(out_dir, quick=...)`` computes (each problem x method a cached unit), ``plot`` draws ``beyond.png``,
``report`` returns the markdown section, ``summary`` the table.

Modules: ``settings``, ``problems`` (images, observations, methods), ``compute``, ``summaries``, ``figures``,
``report``.
"""

from scorematch_paper.experiments.beyond.compute import run
from scorematch_paper.experiments.beyond.figures import plot
from scorematch_paper.experiments.beyond.problems import motion_kernel
from scorematch_paper.experiments.beyond.report import report
from scorematch_paper.experiments.beyond.settings import BeyondConfig
from scorematch_paper.experiments.beyond.summaries import summary

TITLE = "Beyond the paper: colour denoising and linear inverse problems"

__all__ = ["run", "plot", "report", "summary", "TITLE", "BeyondConfig", "motion_kernel"]
