"""Training: the hyper-parameters, the trained model and `train()`, which fits, evaluates and refits."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from dataplatform.model.cold_start import UserFeatureModel, fit_user_features
from dataplatform.model.data import TrainingSet
from dataplatform.model.evaluation import EvaluationReport, evaluate_on_holdout
from dataplatform.model.solver import fit_factors


@dataclass(frozen=True)
class TrainingParams:
    """Hyper-parameters; all of them go into the manifest and into the version (`publishing.model_version`)."""

    dimension: int = 32
    seed: int = 0
    iterations: int = 8
    refit_iterations: int = 3
    regularization: float = 10.0
    bias_regularization: float = 5.0
    purchase_weight: float = 1.0
    unbought_weight: float = 1.0
    line_prior: bool = True
    holdout_users: int = 10_000

    def __post_init__(self) -> None:
        if self.dimension < 2:
            raise ValueError("dimension must be at least 2 (factors plus the bias coordinate)")
        if (
            min(self.purchase_weight, self.unbought_weight) < 0
            or min(self.regularization, self.bias_regularization) <= 0
            or min(self.iterations, self.refit_iterations) < 1
        ):
            raise ValueError(f"invalid training parameters: {self}")


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """What `publish` writes: embeddings, the user-feature model and how good they are."""

    item_ids: list[str]
    item_vectors: np.ndarray  # float32 (n_items, dimension): [q_i, c_i]
    user_ids: list[int]
    user_vectors: np.ndarray  # float32 (n_users, dimension): [p_u, 1]
    user_features: UserFeatureModel
    report: EvaluationReport | None
    params: TrainingParams
    global_mean: float
    training_seconds: float

    @property
    def dimension(self) -> int:
        return int(self.item_vectors.shape[1])


def train(
    data: pa.Table | TrainingSet,
    *,
    dimension: int = 32,
    seed: int = 0,
    evaluate: bool = True,
    **params: Any,
) -> TrainedModel:
    """Train the reference model on a training snapshot (a pyarrow Table) or a prepared TrainingSet.

    `params` override the other `TrainingParams` fields. With `evaluate`, a model fitted without the
    held-out ratings is scored first (`report`), then refitted on all ratings from where it stopped
    (`refit_iterations` sweeps); without, all ratings are fitted from scratch. The returned vectors always
    come from all ratings.
    """
    started = time.perf_counter()
    settings = TrainingParams(dimension=dimension, seed=seed, **params)
    training_set = data if isinstance(data, TrainingSet) else TrainingSet.from_table(data)
    if evaluate:
        report, held_out_fit = evaluate_on_holdout(training_set, settings)
        factors = fit_factors(
            training_set, settings, start=held_out_fit, iterations=settings.refit_iterations
        )
    else:
        report, factors = None, fit_factors(training_set, settings)
    user_vectors = factors.user_vectors()
    return TrainedModel(
        item_ids=[str(i) for i in training_set.item_ids],
        item_vectors=factors.item_vectors(),
        user_ids=[int(u) for u in training_set.user_ids],
        user_vectors=user_vectors,
        user_features=fit_user_features(training_set, user_vectors),
        report=report,
        params=settings,
        global_mean=factors.global_mean,
        training_seconds=round(time.perf_counter() - started, 3),
    )
