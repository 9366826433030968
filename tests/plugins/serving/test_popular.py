"""The popular-products ranking and its JSON copy (pure, no services)."""

from __future__ import annotations

from datetime import date

from dataplatform.serving.popular import OVERALL, PER_COUNTRY, PopularProductsCopy, PopularRanking, copy_bytes

ROWS = [("Spain", "S1"), ("Spain", "S2"), ("France", "F1"), (OVERALL, "O1"), (OVERALL, "S1"), (OVERALL, "O2"),
        (OVERALL, "O3")]


def test_country_first_then_topped_up_from_overall_without_repeats() -> None:
    ranking = PopularRanking.from_rows(ROWS, source="test")
    assert ranking.top("Spain", 4) == ["S1", "S2", "O1", "O2"]
    assert ranking.top("  spain ", 2) == ["S1", "S2"]  # whitespace and case do not matter
    assert ranking.top("Atlantis", 3) == ranking.top(None, 3) == ["O1", "S1", "O2"]


def test_excluded_products_are_skipped() -> None:
    assert PopularRanking.from_rows(ROWS, source="test").top("Spain", 3, exclude=["S1", "O1"]) == ["S2", "O2", "O3"]


def test_an_empty_ranking_is_falsy_and_answers_nothing() -> None:
    empty = PopularRanking.from_rows([], source="test")
    assert not empty and empty.top("Spain", 5) == []


def test_each_country_keeps_at_most_per_country_products() -> None:
    ranking = PopularRanking.from_rows([(OVERALL, f"P{i}") for i in range(PER_COUNTRY + 50)], source="test")
    assert len(ranking.overall) == PER_COUNTRY and ranking.top(None, 3) == ["P0", "P1", "P2"]


def test_copy_round_trips_through_json() -> None:
    copy = PopularProductsCopy.from_ranked(ROWS, as_of=date(2026, 11, 23))
    ranking = PopularRanking.from_json(copy_bytes(copy), source="s3://b/k")
    assert ranking.top("Spain", 4) == PopularRanking.from_rows(ROWS, source="x").top("Spain", 4)
    assert copy.format == "dataplatform.popular_products/1" and copy.by_country["France"] == ["F1"]
