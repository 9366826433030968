"""The popular-products fallback: the ranking per country and overall, held in memory by the serving process.

Its source of truth is the `popular_products` table the batch refresh publishes (`dataplatform.batch.
popular_products`); the same refresh also writes a JSON copy to S3 (`PopularProductsCopy`, `publish_copy` there),
which a process reads when it must answer from the fallback before it ever reached the database (a cold start
with the database down). Countries are matched after collapsing whitespace and casefolding; an unknown country
gets the overall ranking, and a country with fewer than `k` products is topped up from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OVERALL = "*"
"""The `country` of the all-countries ranking in the table."""
PER_COUNTRY = 100
"""Products kept per country (and overall) in memory and in the copy."""
COPY_FORMAT = "dataplatform.popular_products/1"
COPY_KEY = "popular_products/popular_products.json"
"""Where the batch refresh writes the copy in the data-lake bucket (`s3://<prefix>-data-lake/<COPY_KEY>`), the
serving Lambdas' `DATAPLATFORM_POPULAR_COPY_URI`."""


def country_key(country: str | None) -> str:
    return " ".join(country.split()).casefold() if country else ""


class PopularProductsCopy(BaseModel):
    """The JSON copy of the ranking on S3: written by the batch refresh, read by the serving Lambdas."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: Literal["dataplatform.popular_products/1"] = COPY_FORMAT
    as_of: date
    published_at: datetime
    overall: list[str] = Field(max_length=PER_COUNTRY)
    by_country: dict[str, list[str]]

    @classmethod
    def from_ranked(cls, rows: Iterable[tuple[str, str]], as_of: date) -> PopularProductsCopy:
        """From (country, product_code) pairs, best first within each country (`OVERALL` = all countries)."""
        ranking = PopularRanking.from_rows(rows, source="batch")
        return cls(as_of=as_of, published_at=datetime.now(UTC), overall=list(ranking.overall),
                   by_country={c: list(codes) for c, codes in ranking.countries.items()})


@dataclass(frozen=True)
class PopularRanking:
    """An immutable ranking; `top` answers the fallback."""

    overall: tuple[str, ...]
    by_country: Mapping[str, tuple[str, ...]]
    """Keyed by `country_key`."""
    countries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Keyed by the country as published (for the copy)."""
    source: str = ""
    loaded_at: float = field(default_factory=time.monotonic)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str]], *, source: str) -> PopularRanking:
        """From (country, product_code) pairs in rank order within each country."""
        countries: dict[str, list[str]] = {}
        overall: list[str] = []
        for country, code in rows:
            target = overall if country == OVERALL else countries.setdefault(country, [])
            if len(target) < PER_COUNTRY:
                target.append(code)
        return cls._build(overall, countries, source)

    @classmethod
    def from_copy(cls, copy: PopularProductsCopy, *, source: str) -> PopularRanking:
        return cls._build(copy.overall, copy.by_country, source)

    @classmethod
    def from_json(cls, raw: bytes | str, *, source: str) -> PopularRanking:
        return cls.from_copy(PopularProductsCopy.model_validate_json(raw), source=source)

    @classmethod
    def _build(cls, overall: Sequence[str], countries: Mapping[str, Sequence[str]], source: str) -> PopularRanking:
        by_key: dict[str, tuple[str, ...]] = {}
        for country, codes in countries.items():
            by_key.setdefault(country_key(country), tuple(codes[:PER_COUNTRY]))
        return cls(tuple(overall[:PER_COUNTRY]), by_key, {c: tuple(v[:PER_COUNTRY]) for c, v in countries.items()},
                   source)

    def __bool__(self) -> bool:
        return bool(self.overall or self.by_country)

    def top(self, country: str | None, k: int, exclude: Iterable[str] = ()) -> list[str]:
        """The `k` most popular products for `country` (topped up from the overall ranking), minus `exclude`."""
        excluded = set(exclude)
        out: list[str] = []
        for code in (*self.by_country.get(country_key(country), ()), *self.overall):
            if code not in excluded:
                excluded.add(code)
                out.append(code)
                if len(out) == k:
                    break
        return out


def load_copy(s3: Any, bucket: str, key: str) -> PopularRanking:
    """The ranking from its JSON copy on S3 (raises the S3 client's error, or pydantic's for a bad file)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return PopularRanking.from_json(body, source=f"s3://{bucket}/{key}")


def copy_bytes(copy: PopularProductsCopy) -> bytes:
    return json.dumps(copy.model_dump(mode="json"), separators=(",", ":")).encode("utf-8")
