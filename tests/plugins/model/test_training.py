"""Training the reference model (`dataplatform.model.training`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dataplatform.model.training import TrainedModel, train


def test_trains_in_a_few_seconds_on_the_sample_size(snapshot: pa.Table, model: TrainedModel) -> None:
    assert 2_500 <= snapshot.num_rows <= 5_000
    assert model.training_seconds < 10


def test_dimension_parameter_is_honoured(snapshot: pa.Table) -> None:
    small = train(snapshot, dimension=8, evaluate=False)

    assert small.dimension == 8
    assert small.item_vectors.shape == (len(small.item_ids), 8)
    assert small.user_vectors.shape == (len(small.user_ids), 8)
    assert small.user_features.dimension == 8
    assert small.report is None


def test_user_vector_last_coordinate_carries_the_item_bias(model: TrainedModel) -> None:
    np.testing.assert_array_equal(model.user_vectors[:, -1], 1.0)
    assert np.isfinite(model.item_vectors).all() and np.isfinite(model.user_vectors).all()


def test_training_is_deterministic_and_ignores_row_order(snapshot: pa.Table, model: TrainedModel) -> None:
    shuffled = snapshot.take(np.random.default_rng(1).permutation(snapshot.num_rows))

    again = train(shuffled, dimension=32, seed=0)

    assert again.item_ids == model.item_ids and again.user_ids == model.user_ids
    np.testing.assert_allclose(again.item_vectors, model.item_vectors, rtol=1e-4, atol=1e-5)
    assert again.report == model.report


def test_ids_are_the_snapshot_keys(snapshot: pa.Table, model: TrainedModel) -> None:
    assert set(model.item_ids) == set(snapshot.column("productCode").to_pylist())
    assert set(model.user_ids) == set(snapshot.column("customerNumber").to_pylist())
