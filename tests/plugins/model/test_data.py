"""The training set built from a snapshot (`dataplatform.model.data`)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dataplatform.model.data import TrainingSet


def test_rejects_ratings_outside_1_to_5() -> None:
    with pytest.raises(ValueError, match="1 rating"):
        TrainingSet.from_arrays([1, 2], ["S1", "S2"], [5, 6])


def test_rejects_a_snapshot_without_ratings_column(snapshot: pa.Table) -> None:
    with pytest.raises(ValueError, match="productRating"):
        TrainingSet.from_table(snapshot.drop_columns(["productRating"]))


def test_repeated_pair_keeps_the_mean_rating() -> None:
    data = TrainingSet.from_arrays([7, 7, 3], ["S1", "S1", "S2"], [2, 4, 5])

    assert data.user_ids.tolist() == [3, 7]
    assert data.item_ids.tolist() == ["S1", "S2"]
    assert list(zip(data.users.tolist(), data.items.tolist(), data.ratings.tolist(), strict=True)) == [
        (0, 1, 5.0),
        (1, 0, 3.0),
    ]
