"""``io.tile``: images laid out in one grid."""

import numpy as np
import pytest
import torch

from scorematch.io import tile


def test_tile_places_each_image_row_by_row_with_gaps():
    x = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    grid = tile(x, ncols=2, pad=1, fill=-1.0)
    assert grid.shape == (3 * 3 - 1, 2 * 4 - 1)
    for k in range(5):
        r, c = divmod(k, 2)
        np.testing.assert_array_equal(grid[3 * r : 3 * r + 2, 4 * c : 4 * c + 3], x[k])
    assert (grid[2, :] == -1).all() and (grid[6:, 4:] == -1).all()  # a gap row and the unused last cell


def test_tile_border_default_columns_and_tensors():
    grid = tile(torch.ones(4, 3, 3), border=True, pad=2)
    assert grid.shape == (2 * 5 - 2 + 4, 2 * 5 - 2 + 4)  # ceil(sqrt(4)) = 2 columns
    assert grid[:2].sum() == 0 and grid[2:5, 2:5].min() == 1


def test_tile_refuses_other_shapes():
    with pytest.raises(ValueError, match=r"\(N, h, w\)"):
        tile(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="N >= 1"):
        tile(np.zeros((0, 3, 3)))
