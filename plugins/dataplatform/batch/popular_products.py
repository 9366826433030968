"""Most popular products (units sold in the last 7 and 30 days, per country and overall): the fallback.

Computed on the source after each training export, published to PostgreSQL in one transaction (readers see
the previous ranking or the new one), read by the recommender when anything else fails. The same ranking is
also written as a JSON copy to S3 (`publish_copy`, format `dataplatform.serving.popular.PopularProductsCopy`), which
a serving Lambda reads when it starts while the database is unreachable. Plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dataplatform.paths import sql_path
from dataplatform.serving.popular import COPY_KEY, PopularProductsCopy, copy_bytes

__all__ = ["COPY_KEY", "Popularity", "publish", "publish_copy", "ranked", "refresh", "top", "units_sold"]


@dataclass(frozen=True)
class Popularity:
    country: str
    product_code: str
    units_7d: int
    units_30d: int
    units_total: int


def units_sold(source_conn: Any, as_of: date) -> list[Popularity]:
    cur = source_conn.cursor()
    cur.execute(sql_path("select_units_sold.sql").read_text(), {"as_of": as_of})
    return [Popularity(str(c), str(p), int(u7), int(u30), int(ut)) for c, p, u7, u30, ut in cur.fetchall()]


def ranked(rows: list[Popularity]) -> list[tuple[Popularity, int]]:
    """Rank within each country: 7-day units, then 30-day, then all time, then product code (stable)."""
    out: list[tuple[Popularity, int]] = []
    by_country: dict[str, list[Popularity]] = {}
    for row in rows:
        by_country.setdefault(row.country, []).append(row)
    for country_rows in by_country.values():
        country_rows.sort(key=lambda r: (-r.units_7d, -r.units_30d, -r.units_total, r.product_code))
        out += [(row, rank) for rank, row in enumerate(country_rows, start=1)]
    return out


def publish(pg_conn: Any, rows: list[Popularity], as_of: date) -> int:
    """Replace the table's content in one transaction; an empty computation keeps the previous ranking."""
    if not rows:
        raise ValueError(f"no sales found up to {as_of}: keeping the previous popular-products ranking")
    with pg_conn.transaction():
        pg_conn.execute(sql_path("create_popular_products.sql").read_text())
        pg_conn.execute("DELETE FROM popular_products")
        with pg_conn.cursor().copy(
            "COPY popular_products (country, product_code, units_7d, units_30d, units_total, rank, as_of) "
            "FROM STDIN"
        ) as copy:
            for row, rank in ranked(rows):
                copy.write_row((row.country, row.product_code, row.units_7d, row.units_30d, row.units_total,
                                rank, as_of))
    return len(rows)


def top(pg_conn: Any, country: str | None, k: int = 10) -> list[str]:
    cur = pg_conn.execute(sql_path("select_popular_products.sql").read_text(), {"country": country, "k": k})
    return [r[0] for r in cur.fetchall()]


def publish_copy(s3: Any, bucket: str, key: str, rows: list[Popularity], as_of: date) -> str:
    """Write the ranking `publish` just stored as its JSON copy to `s3://bucket/key` (the serving Lambdas' cold
    start fallback; key: `COPY_KEY` in the data-lake bucket); returns the URI. Same refusal of an empty ranking."""
    if not rows:
        raise ValueError(f"no sales found up to {as_of}: keeping the previous popular-products copy")
    pairs = [(row.country, row.product_code) for row, _ in ranked(rows)]
    s3.put_object(Bucket=bucket, Key=key, Body=copy_bytes(PopularProductsCopy.from_ranked(pairs, as_of)),
                  ContentType="application/json")
    return f"s3://{bucket}/{key}"


def refresh(source_conn: Any, pg_conn: Any, s3: Any, bucket: str, as_of: date) -> dict[str, Any]:
    """Compute the ranking up to `as_of` on the source, replace the table, then write its S3 copy (`COPY_KEY` in
    `bucket`): the copy never runs ahead of the table."""
    rows = units_sold(source_conn, as_of)
    count = publish(pg_conn, rows, as_of)
    return {"as_of": as_of.isoformat(), "rows": count, "copy": publish_copy(s3, bucket, COPY_KEY, rows, as_of)}
