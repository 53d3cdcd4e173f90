"""The research record beside the ``scorematch`` library: the reproduction of Kingma & LeCun (NIPS 2010), the
beyond-the-paper problems and the estimator shoot-out (:mod:`scorematch_paper.experiments`), their result cache,
the one report (:mod:`scorematch_paper.report`) and the ``scorematch reproduce`` command
(:mod:`scorematch_paper.cli`, registered in the entry-point group ``scorematch.commands``).

It runs from a checkout of the repository (it reads the repository's ``data/``:
:func:`scorematch_paper.paths.data_dir`) and imports only the library's public API; the library imports nothing from
it.
"""
