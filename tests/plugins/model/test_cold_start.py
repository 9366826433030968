"""The user-feature model for unseen customers (`dataplatform.model.cold_start`)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dataplatform.model.cold_start import UserFeatureModel
from dataplatform.model.training import TrainedModel


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


def test_user_feature_model_uses_the_country(snapshot: pa.Table, model: TrainedModel) -> None:
    countries = set(snapshot.column("country").to_pylist())
    by_country = {country: model.user_features.predict(None, country, None) for country in countries}
    unknown = model.user_features.predict(None, "Neverland", None)

    assert len(countries) == 4
    assert len({vector.tobytes() for vector in by_country.values()}) == len(countries)
    assert not any(np.array_equal(unknown, vector) for vector in by_country.values())
