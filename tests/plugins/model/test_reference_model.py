"""The reference recommender (`dataplatform.reference_model`) on a synthetic snapshot with planted structure.

The synthetic snapshot mimics the exported training set: customers in a few countries whose tastes
depend on the country, products in product lines whose factors depend on the line, purchases driven
by taste and popularity, and ratings driven by taste and product quality (rank-4 truth).
"""

from __future__ import annotations

import io
import json
from hashlib import sha256
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dataplatform.model.reference_model import (
    MANIFEST,
    TrainedModel,
    TrainingSet,
    UserFeatureModel,
    publish,
    train,
)
from dataplatform.vectordb.embeddings_file import check_pair, read_embeddings

CITIES = {
    "USA": ["NYC", "San Francisco", "Boston"],
    "France": ["Paris", "Nantes", "Lyon"],
    "Spain": ["Madrid", "Barcelona"],
    "Japan": ["Tokyo", "Osaka"],
}


def synthetic_snapshot(n_users: int = 300, n_items: int = 110, rank: int = 4, seed: int = 7) -> pa.Table:
    """A training snapshot (the export's columns) with a planted rank-`rank` structure."""
    rng = np.random.default_rng(seed)
    countries = list(CITIES)
    country_of_user = rng.integers(0, len(countries), n_users)
    users = rng.normal(0, 1.0, (len(countries), rank))[country_of_user] + rng.normal(0, 0.7, (n_users, rank))
    line_of_item = rng.integers(0, 7, n_items)
    items = rng.normal(0, 0.8, (7, rank))[line_of_item] + rng.normal(0, 0.8, (n_items, rank))
    popularity, quality = rng.normal(0, 0.5, n_items), rng.normal(0, 0.4, n_items)
    affinity = users @ items.T
    affinity = (affinity - affinity.mean()) / affinity.std()
    rows = []
    for u in range(n_users):
        choice = 1.5 * affinity[u] + popularity + rng.gumbel(size=n_items)
        for i in np.argsort(-choice)[: rng.integers(5, 20)]:
            rating = np.clip(np.rint(3.2 + affinity[u, i] + quality[i] + rng.normal(0, 0.5)), 1, 5)
            rows.append((u, i, int(rating)))
    u, i, rating = (np.array(column) for column in zip(*rows, strict=True))
    city_of_user = [
        CITIES[countries[c]][n % len(CITIES[countries[c]])] for n, c in enumerate(country_of_user)
    ]
    credit = np.round(np.exp(rng.normal(11, 0.6, n_users)), -2)
    return pa.table(
        {
            "customerNumber": pa.array(100 + u, pa.int32()),
            "city": [city_of_user[x] for x in u],
            "state": pa.nulls(len(u), pa.string()),
            "postalCode": ["75001"] * len(u),
            "country": [countries[country_of_user[x]] for x in u],
            "creditLimit": pa.array(credit[u]).cast(pa.decimal128(10, 2)),
            "productCode": [f"S{10 + x % 40}_{1000 + x}" for x in i],
            "productLine": [f"Line {line_of_item[x]}" for x in i],
            "productScale": ["1:18"] * len(u),
            "quantityInStock": pa.array(np.full(len(u), 100), pa.int16()),
            "buyPrice": pa.array(np.full(len(u), 50.0)),
            "MSRP": pa.array(np.full(len(u), 90.0)),
            "productRating": pa.array(rating, pa.int32()),
        }
    )


@pytest.fixture(scope="module")
def snapshot() -> pa.Table:
    return synthetic_snapshot()


@pytest.fixture(scope="module")
def model(snapshot: pa.Table) -> TrainedModel:
    return train(snapshot, dimension=32, seed=0)


def test_model_beats_the_global_mean_rmse(model: TrainedModel) -> None:
    assert model.report is not None
    assert model.report.rmse < 0.9 * model.report.rmse_global_mean


def test_model_beats_the_most_popular_hit_rate(model: TrainedModel) -> None:
    assert model.report is not None
    assert model.report.hit_rate_at_10 > 1.1 * model.report.hit_rate_at_10_most_popular


def test_model_ranks_held_out_purchases_above_most_popular(model: TrainedModel) -> None:
    assert model.report is not None
    assert model.report.percentile_rank < 0.9 * model.report.percentile_rank_most_popular
    assert model.report.beats_baselines


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


def test_user_feature_model_round_trips_through_its_files(model: TrainedModel, tmp_path: Path) -> None:
    json_path, npz_path = tmp_path / "user_feature_model.json", tmp_path / "user_feature_model.npz"

    model.user_features.save(json_path, npz_path)
    from_paths = UserFeatureModel.from_files(json_path, npz_path)
    from_bytes = UserFeatureModel.from_files(json_path.read_bytes(), npz_path.read_bytes())

    for loaded in (from_paths, from_bytes):
        assert loaded.countries == model.user_features.countries
        expected = model.user_features.predict("Paris", "France", 120_000.0)
        np.testing.assert_array_equal(loaded.predict("Paris", "France", 120_000.0), expected)
    assert not np.load(io.BytesIO(npz_path.read_bytes()), allow_pickle=False)["weights"].dtype.hasobject


@pytest.mark.parametrize(
    ("city", "country", "credit"),
    [
        ("Atlantis", "Neverland", None),
        (None, None, None),
        ("  paris ", "FRANCE", 0.0),
        ("Madrid", None, float("nan")),
        ("Tokyo", "Japan", -5.0),
    ],
)
def test_user_feature_model_predicts_finite_vectors_for_any_input(
    model: TrainedModel, city: str | None, country: str | None, credit: float | None
) -> None:
    vector = model.user_features.predict(city, country, credit)

    assert vector.shape == (32,) and vector.dtype == np.float32
    assert np.isfinite(vector).all()
    assert vector[-1] == pytest.approx(1.0, abs=1e-4)


def test_user_feature_model_uses_the_country(model: TrainedModel) -> None:
    by_country = {country: model.user_features.predict(None, country, None) for country in CITIES}
    unknown = model.user_features.predict(None, "Neverland", None)

    assert len({vector.tobytes() for vector in by_country.values()}) == len(CITIES)
    assert not any(np.array_equal(unknown, vector) for vector in by_country.values())


def test_publish_writes_manifest_last_and_files_parse_back(snapshot: pa.Table, model: TrainedModel) -> None:
    written: dict[str, bytes] = {}

    manifest = publish(
        model,
        written.__setitem__,
        "2026-01-05T00-00-00",
        training_snapshot="s3://reco-dev-data-lake/training/snapshot_date=2026-01-05/",
    )

    assert list(written) == [
        "item_embeddings.csv",
        "user_embeddings.csv",
        "user_feature_model.json",
        "user_feature_model.npz",
        MANIFEST,
    ]
    assert json.loads(written[MANIFEST]) == manifest
    items = read_embeddings(io.StringIO(written["item_embeddings.csv"].decode(), newline=""), kind="item")
    users = read_embeddings(io.StringIO(written["user_embeddings.csv"].decode(), newline=""), kind="user")
    check_pair(
        items,
        users,
        known_products=set(snapshot.column("productCode").to_pylist()),
        known_customers=set(snapshot.column("customerNumber").to_pylist()),
        min_product_coverage=1.0,
    )
    np.testing.assert_array_equal(items.vectors, model.item_vectors)
    assert manifest["dimension"] == items.dimension == users.dimension == 32
    assert manifest["rows"] == {"items": len(items), "users": len(users)}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256(written[name]).hexdigest()
    assert manifest["metrics"]["beats_baselines"] is True
    assert manifest["training_snapshot"].startswith("s3://")
    loaded = UserFeatureModel.from_files(
        written["user_feature_model.json"], written["user_feature_model.npz"]
    )
    assert loaded.dimension == 32


def test_publish_rejects_a_version_unfit_for_a_path(model: TrainedModel) -> None:
    with pytest.raises(ValueError, match="version"):
        publish(model, lambda name, content: None, "../latest", training_snapshot="s3://x/")


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
