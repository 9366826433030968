"""The two-head ALS factorisation and the bias-only baseline (the method: `dataplatform.model`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dataplatform.model.data import TrainingSet
    from dataplatform.model.training import TrainingParams


@dataclass(frozen=True, eq=False)
class Factors:
    global_mean: float
    user_factors: np.ndarray  # (n_users, k): p_u
    user_biases: np.ndarray  # (n_users,): b_u, rating head
    item_factors: np.ndarray  # (n_items, k): q_i
    item_biases: np.ndarray  # (n_items,): b_i, rating head
    item_affinity: np.ndarray  # (n_items,): c_i, purchase head

    def user_vectors(self) -> np.ndarray:
        return np.hstack([self.user_factors, np.ones((len(self.user_biases), 1))]).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        return np.hstack([self.item_factors, self.item_affinity[:, None]]).astype(np.float32)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings (rating head)."""
        dot = np.einsum("nk,nk->n", self.user_factors[users], self.item_factors[items])
        return self.global_mean + self.user_biases[users] + self.item_biases[items] + dot


@dataclass(frozen=True, eq=False)
class Grouped:
    """The ratings grouped by one side: entity e owns positions ptr[e]:ptr[e+1] of `other`/`ratings`."""

    ptr: np.ndarray
    other: np.ndarray
    ratings: np.ndarray

    @classmethod
    def by(cls, keys: np.ndarray, other: np.ndarray, ratings: np.ndarray, n: int) -> Grouped:
        order = np.argsort(keys, kind="stable")
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
        return cls(ptr=ptr, other=other[order], ratings=ratings[order])


@dataclass(frozen=True, eq=False)
class _Heads:
    """How the other side's design rows y enter the two heads (see `_solve_side`)."""

    rating_columns: np.ndarray  # 0/1 per column: used by the rating head
    purchase_columns: np.ndarray  # 0/1 per column: used by the purchase head
    purchase_weight: float  # gamma: weight of a bought cell in the purchase head
    unbought_weight: float  # w: weight of an unbought cell, relative to a bought one


def _solve_side(
    grouped: Grouped,
    design: np.ndarray,
    rating_offset: np.ndarray,
    bought_target: np.ndarray,
    unbought_target: np.ndarray,
    *,
    heads: _Heads,
    penalty: np.ndarray,
    prior: np.ndarray | None,
    max_cells: int = 1 << 18,
    max_batch: int = 4096,
) -> np.ndarray:
    """One ALS half-step: for every entity e of this side, the x_e minimising

        sum_bought (r_ej - o_j - (R*y_j).x)^2                                  rating head
        + gamma * [sum_bought (t+_j - (M*y_j).x)^2 + w * sum_unbought (t-_j - (M*y_j).x)^2]   purchase head
        + |x - prior_e|^2_penalty

    over the other side's design rows y_j, where the 0/1 column masks R and M pick what each head uses.
    The sum over unbought cells is a sum over all cells minus the bought ones (the Gram trick). With
    S_e = sum_bought y y', G = sum_all (M*y)(M*y)', `*` elementwise and RR', MM' outer products:
        A_e = S_e * (RR' + gamma (1 - w) MM') + gamma w G + P
        b_e = R * sum_bought y (r - o) + gamma M * sum_bought y (t+ - w t-)
              + gamma w sum_all (M*y) t- + P prior_e
    Entities are solved in batches padded to the same number of ratings (stacked normal equations).
    """
    n, n_ratings = len(grouped.ptr) - 1, len(grouped.other)
    rating, purchase = heads.rating_columns, heads.purchase_columns
    gamma, w = heads.purchase_weight, heads.unbought_weight
    masked = design * purchase
    shared_a = gamma * w * (masked.T @ masked) + np.diag(penalty)
    shared_b = gamma * w * (masked.T @ unbought_target)
    scale = (np.outer(rating, rating) + gamma * (1.0 - w) * np.outer(purchase, purchase)).astype(np.float32)
    # Padding positions point at an extra all-zero row, so padded slots add nothing to the sums.
    # The big gathers and products run in float32; the normal equations are solved in float64.
    rows_of = np.vstack([design, np.zeros((1, design.shape[1]))]).astype(np.float32)
    other = np.append(grouped.other, len(design))
    targets = np.zeros((n_ratings + 1, 2), dtype=np.float32)
    targets[:-1, 0] = grouped.ratings - rating_offset[grouped.other]
    targets[:-1, 1] = bought_target[grouped.other] - w * unbought_target[grouped.other]
    counts = np.diff(grouped.ptr)
    order = np.argsort(counts, kind="stable")
    sorted_counts = counts[order]
    solution = np.empty((n, design.shape[1]))
    start = 0
    while start < n:
        # a batch holds entities of similar rating counts (little padding) and at most max_cells rows
        similar = int(np.searchsorted(sorted_counts, 2 * sorted_counts[start] + 8, side="right"))
        stop = max(min(start + max_batch, n, similar), start + 1)
        while stop - start > 1 and sorted_counts[stop - 1] * (stop - start) > max_cells:
            stop = start + (stop - start) // 2
        entities = order[start:stop]
        width = max(int(sorted_counts[stop - 1]), 1)
        positions = grouped.ptr[entities][:, None] + np.arange(width)
        positions = np.where(np.arange(width) < counts[entities][:, None], positions, n_ratings)
        rows = rows_of[other[positions]]  # (batch, width, d)
        rows_t = rows.transpose(0, 2, 1)
        a = np.add(np.matmul(rows_t, rows) * scale, shared_a)  # float64
        moments = np.matmul(rows_t, targets[positions]).astype(np.float64)  # (batch, d, 2)
        b = rating * moments[..., 0] + gamma * purchase * moments[..., 1] + shared_b
        if prior is not None:
            b += prior[entities] * penalty
        solution[entities] = np.linalg.solve(a, b[..., None])[..., 0]
        start = stop
    return solution


def fit_factors(
    data: TrainingSet, params: TrainingParams, *, start: Factors | None = None, iterations: int | None = None
) -> Factors:
    """ALS for the two heads sharing p_u, q_i (see `dataplatform.model`). `start` warm-starts from
    earlier item parameters over the same items."""
    k = params.dimension - 1
    rng = np.random.default_rng(params.seed)
    n_users, n_items, n_ratings = data.n_users, data.n_items, len(data.ratings)
    mu = float(data.ratings.mean())
    unbought = max(n_users * n_items - n_ratings, 1)
    w = min(params.unbought_weight * n_ratings / unbought, 1.0)
    by_user = Grouped.by(data.users, data.items, data.ratings, n_users)
    by_item = Grouped.by(data.items, data.users, data.ratings, n_items)
    ones_k = np.ones(k)
    # user x = [p_u, b_u] against item rows [q_i, 1]; item x = [q_i, b_i, c_i] against user rows [p_u, 1, 1]
    user_heads = _Heads(np.r_[ones_k, 1.0], np.r_[ones_k, 0.0], params.purchase_weight, w)
    item_heads = _Heads(np.r_[ones_k, 1.0, 0.0], np.r_[ones_k, 0.0, 1.0], params.purchase_weight, w)
    user_penalty = np.r_[np.full(k, params.regularization), params.bias_regularization]
    item_penalty = np.r_[
        np.full(k, params.regularization), params.bias_regularization, params.bias_regularization
    ]
    lines, n_lines = data.item_lines, len(data.product_lines)
    if start is None:
        item_x = np.hstack([rng.normal(0.0, 0.1, (n_items, k)), np.zeros((n_items, 2))])
    else:
        item_x = np.hstack([start.item_factors, start.item_biases[:, None], start.item_affinity[:, None]])
    user_x = np.zeros((n_users, k + 1))
    for _ in range(params.iterations if iterations is None else iterations):
        q, item_b, item_c = item_x[:, :k], item_x[:, k], item_x[:, k + 1]
        user_x = _solve_side(
            by_user,
            np.hstack([q, np.ones((n_items, 1))]),
            mu + item_b,
            1.0 - item_c,
            -item_c,
            heads=user_heads,
            penalty=user_penalty,
            prior=None,
        )
        prior = None
        if params.line_prior and n_lines:
            known = lines >= 0
            sums = np.zeros((n_lines, k))
            np.add.at(sums, lines[known], q[known])
            means = sums / np.maximum(np.bincount(lines[known], minlength=n_lines), 1)[:, None]
            prior = np.zeros((n_items, k + 2))  # biases shrink towards 0
            prior[known, :k] = means[lines[known]]
        item_x = _solve_side(
            by_item,
            np.hstack([user_x[:, :k], np.ones((n_users, 2))]),
            mu + user_x[:, k],
            np.ones(n_users),
            np.zeros(n_users),
            heads=item_heads,
            penalty=item_penalty,
            prior=prior,
        )
    return Factors(
        global_mean=mu,
        user_factors=user_x[:, :k],
        user_biases=user_x[:, k],
        item_factors=item_x[:, :k],
        item_biases=item_x[:, k],
        item_affinity=item_x[:, k + 1],
    )


def fit_biases(data: TrainingSet, regularization: float, iterations: int = 10) -> Factors:
    """The bias-only baseline mu + b_u + b_i (regularised alternating means), as rank-0 factors."""
    mu = float(data.ratings.mean())
    user_b, item_b = np.zeros(data.n_users), np.zeros(data.n_items)
    user_n = np.bincount(data.users, minlength=data.n_users)
    item_n = np.bincount(data.items, minlength=data.n_items)
    for _ in range(iterations):
        residual = data.ratings - mu - user_b[data.users]
        item_b = np.bincount(data.items, weights=residual, minlength=data.n_items) / (item_n + regularization)
        residual = data.ratings - mu - item_b[data.items]
        user_b = np.bincount(data.users, weights=residual, minlength=data.n_users) / (user_n + regularization)
    empty_u, empty_i = np.zeros((data.n_users, 0)), np.zeros((data.n_items, 0))
    return Factors(mu, empty_u, user_b, empty_i, item_b, np.zeros(data.n_items))
