"""The training snapshot as the solver sees it: ratings with dense user and item indices, plus side features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa


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
