"""Unseen customers: `UserFeatureModel`, a ridge regression from (country, city, creditLimit) to the user vector,
saved as JSON (vocabularies, scaler) + .npz (weights, no pickle) and served with numpy alone."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dataplatform.model.data import TrainingSet


def _normalise(text: str | None) -> str | None:
    if not isinstance(text, str):
        return None
    key = " ".join(text.split()).casefold()
    return key or None


def _city_key(city: str | None, country: str | None) -> str | None:
    city_key, country_key = _normalise(city), _normalise(country)
    return None if city_key is None else f"{city_key}|{country_key or ''}"


@dataclass(frozen=True, eq=False)
class UserFeatureModel:
    """Ridge regression from (country, city, creditLimit) to a user vector, for customers not trained on.

    Features: one-hot country, one-hot (city, country) for the most common cities, standardised
    log1p(creditLimit) and a "credit limit unknown" flag, plus an unpenalised intercept. An unknown or
    missing category switches its block off, so the prediction falls back towards the average user.
    Strings are compared after collapsing whitespace and casefolding.
    """

    countries: tuple[str, ...]
    cities: tuple[str, ...]  # "city|country" keys
    credit_log_mean: float
    credit_log_std: float
    weights: np.ndarray  # float32 (n_features, dimension)
    intercept: np.ndarray  # float32 (dimension,)

    FORMAT = "dataplatform.user_feature_model/1"

    def __post_init__(self) -> None:
        expected = (len(self.countries) + len(self.cities) + 2, self.intercept.shape[0])
        if self.intercept.ndim != 1 or self.weights.shape != expected:
            raise ValueError(f"weights have shape {self.weights.shape}, vocabularies imply {expected}")

    @property
    def dimension(self) -> int:
        return int(self.intercept.shape[0])

    def features(
        self,
        cities: Sequence[str | None],
        countries: Sequence[str | None],
        credit_limits: Sequence[float | None] | np.ndarray,
    ) -> np.ndarray:
        """The design matrix (n, n_features) for n customers."""
        country_index = {c: k for k, c in enumerate(self.countries)}
        city_index = {c: k for k, c in enumerate(self.cities)}
        n, n_countries, n_cities = len(countries), len(self.countries), len(self.cities)
        x = np.zeros((n, n_countries + n_cities + 2), dtype=np.float64)
        for row, (city, country) in enumerate(zip(cities, countries, strict=True)):
            k = country_index.get(_normalise(country))  # type: ignore[arg-type]
            if k is not None:
                x[row, k] = 1.0
            k = city_index.get(_city_key(city, country))  # type: ignore[arg-type]
            if k is not None:
                x[row, n_countries + k] = 1.0
        credit = np.array([np.nan if c is None else c for c in credit_limits], dtype=np.float64)
        known = np.isfinite(credit) & (credit >= 0)
        standardised = (np.log1p(np.where(known, credit, 0.0)) - self.credit_log_mean) / self.credit_log_std
        x[:, -2] = np.where(known, standardised, 0.0)
        x[:, -1] = ~known
        return x

    def predict_many(
        self,
        cities: Sequence[str | None],
        countries: Sequence[str | None],
        credit_limits: Sequence[float | None] | np.ndarray,
    ) -> np.ndarray:
        """User vectors (n, dimension), float32."""
        x = self.features(cities, countries, credit_limits)
        return (x @ self.weights + self.intercept).astype(np.float32)

    def predict(self, city: str | None, country: str | None, credit_limit: float | None) -> np.ndarray:
        """One user vector (dimension,), float32; any argument may be None or unknown."""
        return self.predict_many([city], [country], [credit_limit])[0]

    @classmethod
    def fit(
        cls,
        cities: Sequence[str | None],
        countries: Sequence[str | None],
        credit_limits: Sequence[float | None] | np.ndarray,
        targets: np.ndarray,
        *,
        regularization: float = 5.0,
        max_cities: int = 200,
        min_users_per_city: int = 2,
    ) -> UserFeatureModel:
        """Fit on one row per customer; `targets` (n, dimension) are the customers' learned vectors."""
        country_counts: dict[str, int] = {}
        for country in countries:
            key = _normalise(country)
            if key is not None:
                country_counts[key] = country_counts.get(key, 0) + 1
        city_counts: dict[str, int] = {}
        for city, country in zip(cities, countries, strict=True):
            key = _city_key(city, country)
            if key is not None:
                city_counts[key] = city_counts.get(key, 0) + 1
        common_cities = sorted(
            (key for key, count in city_counts.items() if count >= min_users_per_city),
            key=lambda key: (-city_counts[key], key),
        )[:max_cities]
        credit = np.array([np.nan if c is None else c for c in credit_limits], dtype=np.float64)
        known = np.isfinite(credit) & (credit >= 0)
        logs = np.log1p(credit[known])
        mean = float(logs.mean()) if logs.size else 0.0
        std = float(logs.std()) if logs.size > 1 and logs.std() > 1e-9 else 1.0
        dimension = targets.shape[1]
        unfitted = cls(
            countries=tuple(sorted(country_counts)),
            cities=tuple(sorted(common_cities)),
            credit_log_mean=mean,
            credit_log_std=std,
            weights=np.zeros((len(country_counts) + len(common_cities) + 2, dimension), dtype=np.float32),
            intercept=np.zeros(dimension, dtype=np.float32),
        )
        n_features = unfitted.weights.shape[0]
        gram = np.zeros((n_features + 1, n_features + 1))
        moment = np.zeros((n_features + 1, dimension))
        for start in range(0, len(countries), 20_000):
            stop = start + 20_000
            x = unfitted.features(cities[start:stop], countries[start:stop], credit_limits[start:stop])
            x = np.hstack([x, np.ones((x.shape[0], 1))])
            gram += x.T @ x
            moment += x.T @ np.asarray(targets[start:stop], dtype=np.float64)
        penalty = np.full(n_features + 1, regularization)
        penalty[-1] = 1e-9  # the intercept is (almost) not penalised
        solution = np.linalg.solve(gram + np.diag(penalty), moment)
        return cls(
            countries=unfitted.countries,
            cities=unfitted.cities,
            credit_log_mean=mean,
            credit_log_std=std,
            weights=solution[:-1].astype(np.float32),
            intercept=solution[-1].astype(np.float32),
        )

    def to_files(self) -> tuple[bytes, bytes]:
        """(JSON bytes, .npz bytes): vocabularies and scaler, then weights. No pickle."""
        description = {
            "format": self.FORMAT,
            "dimension": self.dimension,
            "normalisation": "collapse whitespace, casefold; a city key is 'city|country'",
            "features": [
                "one-hot country (countries)",
                "one-hot city (cities)",
                "(log1p(creditLimit) - credit_log1p.mean) / credit_log1p.std, 0 when unknown",
                "1 when creditLimit is unknown",
            ],
            "prediction": "features @ weights + intercept",
            "countries": list(self.countries),
            "cities": list(self.cities),
            "credit_log1p": {"mean": self.credit_log_mean, "std": self.credit_log_std},
        }
        arrays = io.BytesIO()
        np.savez(arrays, weights=self.weights, intercept=self.intercept)
        return json.dumps(description, indent=2).encode("utf-8"), arrays.getvalue()

    def save(self, json_path: str | os.PathLike[str], npz_path: str | os.PathLike[str]) -> None:
        description, arrays = self.to_files()
        with open(json_path, "wb") as file:
            file.write(description)
        with open(npz_path, "wb") as file:
            file.write(arrays)

    @classmethod
    def from_files(
        cls, json_source: str | os.PathLike[str] | bytes, npz_source: str | os.PathLike[str] | bytes
    ) -> UserFeatureModel:
        """Load from paths or from the bytes `to_files` produced."""
        raw_json = json_source if isinstance(json_source, bytes) else _read_bytes(json_source)
        raw_npz = npz_source if isinstance(npz_source, bytes) else _read_bytes(npz_source)
        description = json.loads(raw_json)
        if description.get("format") != cls.FORMAT:
            raise ValueError(f"not a {cls.FORMAT} file: format is {description.get('format')!r}")
        with np.load(io.BytesIO(raw_npz), allow_pickle=False) as arrays:
            weights, intercept = arrays["weights"], arrays["intercept"]
        return cls(
            countries=tuple(description["countries"]),
            cities=tuple(description["cities"]),
            credit_log_mean=float(description["credit_log1p"]["mean"]),
            credit_log_std=float(description["credit_log1p"]["std"]),
            weights=weights.astype(np.float32),
            intercept=intercept.astype(np.float32),
        )


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def fit_user_features(data: TrainingSet, user_vectors: np.ndarray) -> UserFeatureModel:
    """The user-feature model of a training set's customers, fitted to their learned vectors (one row each)."""
    return UserFeatureModel.fit(
        list(data.user_cities), list(data.user_countries), data.user_credit_limits, user_vectors
    )
