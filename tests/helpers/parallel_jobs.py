"""A module-level job for the map_jobs tests (worker processes import it by name)."""

import functools

import torch

import scorematch as sm


def train_one(lam: float) -> list[float]:
    gen = torch.Generator().manual_seed(7)
    x = torch.rand(256, 6, generator=gen, dtype=torch.float64)
    poe = sm.ProductOfExperts(6, 6, generator=gen).double()
    sm.fit(poe, x, functools.partial(sm.score_matching_loss, lam=lam), steps=20, batch_size=64, seed=1)
    return poe.filters.flatten().tolist()
