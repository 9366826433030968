"""The ALS half-step and the factorisation (`dataplatform.model.solver`)."""

from __future__ import annotations

import numpy as np
import pytest

from dataplatform.model.solver import Grouped, _Heads, _solve_side


def direct_solution(bought: dict[int, float], design: np.ndarray, offset: np.ndarray, plus: np.ndarray,
                    minus: np.ndarray, heads: _Heads, penalty: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """One entity's minimiser written out cell by cell: a weighted least-squares problem over every cell."""
    rows, targets, weights = [], [], []
    for j in range(len(design)):
        if j in bought:
            rows.append(heads.rating_columns * design[j])
            targets.append(bought[j] - offset[j])
            weights.append(1.0)
            rows.append(heads.purchase_columns * design[j])
            targets.append(plus[j])
            weights.append(heads.purchase_weight)
        else:
            rows.append(heads.purchase_columns * design[j])
            targets.append(minus[j])
            weights.append(heads.purchase_weight * heads.unbought_weight)
    x, y, w = np.array(rows), np.array(targets), np.array(weights)
    a = x.T @ (w[:, None] * x) + np.diag(penalty)
    return np.linalg.solve(a, x.T @ (w * y) + penalty * prior)


@pytest.mark.parametrize("max_batch", [1, 2, 4096])
def test_half_step_equals_the_cell_by_cell_least_squares(max_batch: int) -> None:
    # GIVEN 6 entities, 9 on the other side, a few bought (rated) cells each, and both heads in play
    rng = np.random.default_rng(3)
    n, m, d = 6, 9, 4
    bought = {e: {int(j): float(rng.integers(1, 6)) for j in rng.choice(m, rng.integers(1, 5), replace=False)}
              for e in range(n)}
    keys = np.array([e for e in range(n) for _ in bought[e]])
    other = np.array([j for e in range(n) for j in bought[e]])
    ratings = np.array([r for e in range(n) for r in bought[e].values()])
    design = rng.normal(size=(m, d))
    offset, plus, minus = rng.normal(size=m), rng.normal(size=m), rng.normal(size=m)
    heads = _Heads(np.array([1.0, 1.0, 1.0, 0.0]), np.array([1.0, 1.0, 0.0, 1.0]), 0.7, 0.2)
    penalty = np.array([2.0, 2.0, 0.5, 0.5])
    prior = rng.normal(size=(n, d))

    # WHEN one half-step solves them all (Gram trick, batches of similar entities)
    solved = _solve_side(Grouped.by(keys, other, ratings, n), design, offset, plus, minus, heads=heads,
                         penalty=penalty, prior=prior, max_batch=max_batch)

    # THEN each entity gets the minimiser of its own loss (float32 gathers: close, not exact)
    for e in range(n):
        expected = direct_solution(bought[e], design, offset, plus, minus, heads, penalty, prior[e])
        np.testing.assert_allclose(solved[e], expected, rtol=1e-4, atol=1e-5)
