"""The reference recommender: a stand-in for the data scientist's model, numpy only.

It trains on the exported training snapshot (one row per rated purchase: user features, product
features, `productRating` 1..5) and publishes what the platform loads into pgvector.

**Method.** Matrix factorisation with biases, fitted by alternating least squares (ALS), with two heads
sharing the user factors p_u and product factors q_i (collective matrix factorisation, Singh & Gordon,
KDD 2008):

    rating head    rating(u, i)   ~ mu + b_u + b_i + p_u . q_i     fitted on the ratings
    purchase head  affinity(u, i) ~ c_i + p_u . q_i                fitted to 1 on rated (= bought) pairs,
                                                                   to 0 with a small weight on the others

Ratings exist only for purchases, so *which* products a customer bought is signal too: a model fitted
on rating values alone ranks unbought products poorly (it never sees them). The purchase head, weighted
like implicit-feedback ALS (Hu, Koren & Volinsky, ICDM 2008), learns from every (user, product) cell;
the rating head keeps the factors faithful to how much the customer liked what they bought, and gives
the RMSE. All unbought cells together weigh `unbought_weight` times the bought ones, and the purchase
head weighs `purchase_weight` against the rating head. Because every cell enters the loss, each ALS
half-step uses the Gram trick (one shared k x k matrix plus a correction per rating): a sweep costs
O(ratings * k^2 + (users + items) * k^3) however sparse the data, with the normal equations of
similar-sized entities stacked and solved in batches. Side feature: each product's factors are shrunk
towards the mean factors of its `productLine`, which helps products with few ratings and makes item-item
similarity aware of the category.

**Published vectors** (`dimension` = k + 1 coordinates):

    item_i = [q_i, c_i]        user_u = [p_u, 1]        user_u . item_i = affinity(u, i)

so "based on your profile" is the largest inner product (pgvector `<#>`, negative inner product), which
ranks a user's products exactly like the purchase head; "similar to what you browsed" is the cosine
between item vectors (pgvector `<=>`), i.e. products bought (and liked) by the same customers. The
user's constant last coordinate picks up the product's own affinity c_i (its appeal to everyone).

**Unseen customers.** `UserFeatureModel`: ridge regression from (country, city, creditLimit) to the
user vector, saved as JSON (vocabularies, scaler) + .npz (weights, no pickle), served with numpy alone.

**Evaluation.** A deterministic holdout (one rating from each of up to `holdout_users` users): RMSE of
the rating head against the global mean and a bias-only model; for ranking, the held-out product's rank
among the products its user has not bought (hit rate@10, mean percentile rank) against most-popular,
and with the feature model's vectors (the cold-start path; the feature model saw these users' other
ratings through their vectors, so it is slightly optimistic). The evaluated fit is then warm-started on
all ratings for `refit_iterations` sweeps and published.

Speed: well under a second on the sample (~2,500 ratings); about a minute for 1-1.6M ratings, 100k
users and 10-12k products on 2 cores. The batched products call BLAS; on a worker shared with other busy
processes, set `OPENBLAS_NUM_THREADS=1` (before numpy is imported) so OpenBLAS threads do not spin
against each other.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from dataplatform.vectordb.embeddings_file import embeddings_csv_bytes

ITEM_EMBEDDINGS = "item_embeddings.csv"
USER_EMBEDDINGS = "user_embeddings.csv"
USER_FEATURE_MODEL_JSON = "user_feature_model.json"
USER_FEATURE_MODEL_NPZ = "user_feature_model.npz"
MANIFEST = "manifest.json"
"""Written last: its presence means the other four files of the version are complete."""

HIT_RATE_K = 10
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Ratings with dense indices plus per-user and per-item side features.

    Ids are sorted and ratings ordered by (user, item), so the result does not depend on the row order
    of the snapshot. A (user, item) pair rated twice keeps the mean rating.
    """

    user_ids: np.ndarray  # int64 (n_users,), sorted
    item_ids: np.ndarray  # str (n_items,), sorted
    users: np.ndarray  # int64 (n_ratings,) index into user_ids
    items: np.ndarray  # int64 (n_ratings,) index into item_ids
    ratings: np.ndarray  # float64 (n_ratings,)
    item_lines: np.ndarray  # int64 (n_items,) index into product_lines, -1 when unknown
    product_lines: tuple[str, ...]
    user_cities: np.ndarray  # object (n_users,) str or None
    user_countries: np.ndarray  # object (n_users,) str or None
    user_credit_limits: np.ndarray  # float64 (n_users,), NaN when unknown

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @classmethod
    def from_table(cls, table: pa.Table) -> TrainingSet:
        """From the training snapshot (columns as in the export; extra columns are ignored)."""
        missing = {"customerNumber", "productCode", "productRating"} - set(table.column_names)
        if missing:
            raise ValueError(f"training table lacks column(s) {sorted(missing)}")
        for name in ("customerNumber", "productCode", "productRating"):
            if table.column(name).null_count:
                raise ValueError(f"training table has {table.column(name).null_count} null {name}")

        def column(name: str, kind: pa.DataType | None) -> np.ndarray | None:
            if name not in table.column_names:
                return None
            values = table.column(name)
            if kind is not None:
                values = values.cast(kind)
            return values.to_numpy(zero_copy_only=False)

        return cls.from_arrays(
            customer_numbers=column("customerNumber", pa.int64()),
            product_codes=column("productCode", pa.string()),
            ratings=column("productRating", pa.float64()),
            product_lines=column("productLine", pa.string()),
            cities=column("city", pa.string()),
            countries=column("country", pa.string()),
            credit_limits=column("creditLimit", pa.float64()),
        )

    @classmethod
    def from_arrays(
        cls,
        customer_numbers: Sequence[int] | np.ndarray,
        product_codes: Sequence[str] | np.ndarray,
        ratings: Sequence[float] | np.ndarray,
        *,
        product_lines: Sequence[str | None] | np.ndarray | None = None,
        cities: Sequence[str | None] | np.ndarray | None = None,
        countries: Sequence[str | None] | np.ndarray | None = None,
        credit_limits: Sequence[float | None] | np.ndarray | None = None,
    ) -> TrainingSet:
        """From one array per snapshot column, one element per rating row."""
        values = np.asarray(ratings, dtype=np.float64)
        n = len(values)
        for name, array in (("customer_numbers", customer_numbers), ("product_codes", product_codes)):
            if len(array) != n:
                raise ValueError(f"{name} has {len(array)} rows, ratings has {n}")
        if n == 0:
            raise ValueError("no ratings to train on")
        out_of_range = ~((values >= 1) & (values <= 5))
        if out_of_range.any():
            raise ValueError(f"{int(out_of_range.sum())} rating(s) outside 1..5 (or NaN)")
        user_ids, user_codes = _encode(customer_numbers, pa.int64())
        item_ids, item_codes = _encode(product_codes, pa.string())
        n_items = len(item_ids)
        pair, pair_of_row = np.unique(user_codes * n_items + item_codes, return_inverse=True)
        mean_rating = np.bincount(pair_of_row, weights=values) / np.bincount(pair_of_row)
        first_of_user = np.full(len(user_ids), n, dtype=np.int64)
        np.minimum.at(first_of_user, user_codes, np.arange(n))
        first_of_item = np.full(n_items, n, dtype=np.int64)
        np.minimum.at(first_of_item, item_codes, np.arange(n))

        def per_entity(array: Sequence[Any] | np.ndarray | None, first: np.ndarray, fill: Any) -> np.ndarray:
            if array is None:
                return np.full(len(first), fill, dtype=object if fill is None else np.float64)
            if len(array) != n:
                raise ValueError(f"a feature column has {len(array)} rows, ratings has {n}")
            return np.asarray(array, dtype=object if fill is None else np.float64)[first]

        line_names = per_entity(product_lines, first_of_item, None)
        lines = tuple(sorted({str(v) for v in line_names if v is not None}))
        line_index = {name: k for k, name in enumerate(lines)}
        credit = per_entity(credit_limits, first_of_user, np.nan)
        return cls(
            user_ids=user_ids,
            item_ids=item_ids,
            users=(pair // n_items).astype(np.int64),
            items=(pair % n_items).astype(np.int64),
            ratings=mean_rating,
            item_lines=np.array([line_index.get(v, -1) for v in line_names], dtype=np.int64),
            product_lines=lines,
            user_cities=per_entity(cities, first_of_user, None),
            user_countries=per_entity(countries, first_of_user, None),
            user_credit_limits=np.where(np.isfinite(credit), credit, np.nan),
        )

    def subset(self, keep: np.ndarray) -> TrainingSet:
        """The same users, items and features with only the ratings where `keep` is True."""
        return replace(self, users=self.users[keep], items=self.items[keep], ratings=self.ratings[keep])


def _encode(values: Sequence[Any] | np.ndarray, kind: pa.DataType) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and, per element, its index among them (pyarrow: fast on 1M strings)."""
    encoded = pa.array(values, type=kind).dictionary_encode()
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
    order = np.argsort(distinct, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)]


# ------------------------------------------------------------------------------ user-feature model


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


# ---------------------------------------------------------------------------------- factorisation


@dataclass(frozen=True)
class TrainingParams:
    """Hyper-parameters; all of them go into the manifest."""

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
class _Factors:
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
class _Grouped:
    """The ratings grouped by one side: entity e owns positions ptr[e]:ptr[e+1] of `other`/`ratings`."""

    ptr: np.ndarray
    other: np.ndarray
    ratings: np.ndarray

    @classmethod
    def by(cls, keys: np.ndarray, other: np.ndarray, ratings: np.ndarray, n: int) -> _Grouped:
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
    grouped: _Grouped,
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


def _fit_factors(
    data: TrainingSet, params: TrainingParams, *, start: _Factors | None = None, iterations: int | None = None
) -> _Factors:
    """ALS for the two heads sharing p_u, q_i (see the module docstring). `start` warm-starts from
    earlier item parameters over the same items."""
    k = params.dimension - 1
    rng = np.random.default_rng(params.seed)
    n_users, n_items, n_ratings = data.n_users, data.n_items, len(data.ratings)
    mu = float(data.ratings.mean())
    unbought = max(n_users * n_items - n_ratings, 1)
    w = min(params.unbought_weight * n_ratings / unbought, 1.0)
    by_user = _Grouped.by(data.users, data.items, data.ratings, n_users)
    by_item = _Grouped.by(data.items, data.users, data.ratings, n_items)
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
    return _Factors(
        global_mean=mu,
        user_factors=user_x[:, :k],
        user_biases=user_x[:, k],
        item_factors=item_x[:, :k],
        item_biases=item_x[:, k],
        item_affinity=item_x[:, k + 1],
    )


def _fit_biases(data: TrainingSet, regularization: float, iterations: int = 10) -> _Factors:
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
    return _Factors(mu, empty_u, user_b, empty_i, item_b, np.zeros(data.n_items))


# ------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvaluationReport:
    """Held-out quality of the model against the baselines it must beat.

    Ranking metrics rank each held-out product among the products its user did not rate in training:
    hit rate@10 (share in the top 10, higher is better) and mean percentile rank (0 = top, 0.5 = random,
    lower is better; still informative when a catalogue is too large for hits in the top 10).
    """

    holdout_ratings: int
    candidates_per_user: float
    rmse: float
    rmse_global_mean: float
    rmse_bias_only: float
    hit_rate_at_10: float
    hit_rate_at_10_most_popular: float
    hit_rate_at_10_user_features: float
    percentile_rank: float
    percentile_rank_most_popular: float
    percentile_rank_user_features: float

    @property
    def beats_baselines(self) -> bool:
        """Better RMSE than the global mean and better ranking than most-popular. Ranking is judged on
        the percentile rank: on ~100 held-out users (the sample) a hit rate@10 moves by 1% per hit."""
        return self.rmse < self.rmse_global_mean and self.percentile_rank < self.percentile_rank_most_popular

    def as_dict(self) -> dict[str, float | int | bool]:
        return {**asdict(self), "beats_baselines": self.beats_baselines}


def _holdout(data: TrainingSet, params: TrainingParams) -> np.ndarray:
    """Indices of the held-out ratings: one random rating of each of up to `holdout_users` random users
    with at least two ratings. Deterministic for a given seed and data."""
    rng = np.random.default_rng(params.seed + 1)
    per_user = np.bincount(data.users, minlength=data.n_users)
    eligible = np.flatnonzero(per_user >= 2)
    chosen = np.sort(rng.permutation(eligible)[: params.holdout_users])
    first = np.searchsorted(data.users, chosen)  # ratings are ordered by user
    return first + (rng.random(len(chosen)) * per_user[chosen]).astype(np.int64)


def _held_out_ranks(
    train: TrainingSet,
    users: np.ndarray,
    held_items: np.ndarray,
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(rank, candidates) per held-out rating: the 0-based rank of the held-out item by inner product among
    the items its user did not rate in `train` (ties count against it), and how many such items there are."""
    by_user = _Grouped.by(train.users, train.items, train.ratings, train.n_users)
    seen_counts = np.diff(by_user.ptr)[users]
    ranks = np.empty(len(users), dtype=np.int64)
    for start in range(0, len(users), 512):
        batch = users[start : start + 512]
        scores = user_vectors[start : start + 512] @ item_vectors.T
        rows = np.repeat(np.arange(len(batch)), seen_counts[start : start + 512])
        seen = by_user.other[np.concatenate([np.arange(by_user.ptr[u], by_user.ptr[u + 1]) for u in batch])]
        scores[rows, seen] = -np.inf
        held = scores[np.arange(len(batch)), held_items[start : start + 512]]
        ranks[start : start + 512] = (scores >= held[:, None]).sum(axis=1) - 1
    return ranks, train.n_items - seen_counts


def _evaluate(data: TrainingSet, params: TrainingParams) -> tuple[EvaluationReport, _Factors]:
    """Fit without the held-out ratings and score; also returns that fit (to warm-start the refit)."""
    held = _holdout(data, params)
    keep = np.ones(len(data.ratings), dtype=bool)
    keep[held] = False
    train = data.subset(keep)
    users, items, truth = data.users[held], data.items[held], data.ratings[held]

    def rmse(predicted: np.ndarray) -> float:
        return float(np.sqrt(np.mean((np.clip(predicted, 1.0, 5.0) - truth) ** 2)))

    def ranking(user_vectors: np.ndarray, item_vectors: np.ndarray) -> tuple[float, float]:
        ranks, candidates = _held_out_ranks(train, users, items, user_vectors, item_vectors)
        return float(np.mean(ranks < HIT_RATE_K)), float(np.mean(ranks / np.maximum(candidates - 1, 1)))

    factors = _fit_factors(train, params)
    biases = _fit_biases(train, params.bias_regularization)
    popularity = np.bincount(train.items, minlength=train.n_items).astype(np.float64)
    tie_break = np.random.default_rng(params.seed + 2).random(train.n_items) * 0.5
    features = _fit_user_features(train, factors.user_vectors())
    cold = features.predict_many(
        train.user_cities[users], train.user_countries[users], train.user_credit_limits[users]
    )
    item_vectors = factors.item_vectors()
    hit_rate, percentile = ranking(factors.user_vectors()[users], item_vectors)
    hit_rate_popular, percentile_popular = ranking(
        np.ones((len(users), 1)), (popularity + tie_break)[:, None]
    )
    hit_rate_features, percentile_features = ranking(cold, item_vectors)
    report = EvaluationReport(
        holdout_ratings=len(held),
        candidates_per_user=float(
            data.n_items - np.bincount(train.users, minlength=data.n_users)[users].mean()
        ),
        rmse=rmse(factors.predict(users, items)),
        rmse_global_mean=rmse(np.full(len(truth), factors.global_mean)),
        rmse_bias_only=rmse(biases.predict(users, items)),
        hit_rate_at_10=hit_rate,
        hit_rate_at_10_most_popular=hit_rate_popular,
        hit_rate_at_10_user_features=hit_rate_features,
        percentile_rank=percentile,
        percentile_rank_most_popular=percentile_popular,
        percentile_rank_user_features=percentile_features,
    )
    return report, factors


def _fit_user_features(data: TrainingSet, user_vectors: np.ndarray) -> UserFeatureModel:
    return UserFeatureModel.fit(
        list(data.user_cities), list(data.user_countries), data.user_credit_limits, user_vectors
    )


# --------------------------------------------------------------------------------- train, publish


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """What `publish` writes: embeddings, the user-feature model and how good they are."""

    item_ids: list[str]
    item_vectors: np.ndarray  # float32 (n_items, dimension): [q_i, b_i]
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
        report, held_out_fit = _evaluate(training_set, settings)
        factors = _fit_factors(
            training_set, settings, start=held_out_fit, iterations=settings.refit_iterations
        )
    else:
        report, factors = None, _fit_factors(training_set, settings)
    user_vectors = factors.user_vectors()
    return TrainedModel(
        item_ids=[str(i) for i in training_set.item_ids],
        item_vectors=factors.item_vectors(),
        user_ids=[int(u) for u in training_set.user_ids],
        user_vectors=user_vectors,
        user_features=_fit_user_features(training_set, user_vectors),
        report=report,
        params=settings,
        global_mean=factors.global_mean,
        training_seconds=round(time.perf_counter() - started, 3),
    )


def publish(
    model: TrainedModel,
    writer: Callable[[str, bytes], None],
    version: str,
    *,
    training_snapshot: str,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """Write the artifact files through `writer(relative_name, content)`, `manifest.json` last.

    The caller maps names to storage (e.g. `models/<version>/<name>` in the ML artifacts bucket).
    `training_snapshot` says which snapshot trained the model (e.g. its S3 URI). Returns the manifest.
    """
    if not _VERSION.fullmatch(version):
        raise ValueError(f"version {version!r} must match {_VERSION.pattern}")
    model_json, model_npz = model.user_features.to_files()
    files = {
        ITEM_EMBEDDINGS: embeddings_csv_bytes(model.item_ids, model.item_vectors),
        USER_EMBEDDINGS: embeddings_csv_bytes(model.user_ids, model.user_vectors),
        USER_FEATURE_MODEL_JSON: model_json,
        USER_FEATURE_MODEL_NPZ: model_npz,
    }
    rows = {ITEM_EMBEDDINGS: len(model.item_ids), USER_EMBEDDINGS: len(model.user_ids)}
    for name, content in files.items():
        writer(name, content)
    manifest = {
        "version": version,
        "model": "reference-als",
        "created_at": (created_at or datetime.now(UTC)).isoformat(),
        "training_snapshot": training_snapshot,
        "dimension": model.dimension,
        "rows": {"items": len(model.item_ids), "users": len(model.user_ids)},
        "similarity": {
            "user_to_item": "inner product (pgvector <#>): user=[p_u, 1], item=[q_i, c_i], higher is better",
            "item_to_item": "cosine (pgvector <=>)",
        },
        "global_mean_rating": model.global_mean,
        "files": {
            name: {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
            | ({"rows": rows[name]} if name in rows else {})
            for name, content in files.items()
        },
        "metrics": model.report.as_dict() if model.report else None,
        "params": asdict(model.params),
        "training_seconds": model.training_seconds,
    }
    writer(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
    return manifest
