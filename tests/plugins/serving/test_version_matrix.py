"""The in-process k-NN of one model version: the exact scans, and the neighbour lists the loader computes with them
(pure NumPy, no database)."""

from __future__ import annotations

import numpy as np

from dataplatform.serving.version_matrix import RankedLists, VersionMatrix


def matrix(n: int = 300, dim: int = 6, seed: int = 0) -> VersionMatrix:
    rng = np.random.default_rng(seed)
    return VersionMatrix.of("v1", [f"P{i:04d}" for i in range(n)], rng.standard_normal((n, dim)).astype(np.float32))


def exact_neighbours(m: VersionMatrix, row: int, k: int) -> list[str]:
    unit = m.vectors.astype(np.float64) / np.linalg.norm(m.vectors.astype(np.float64), axis=1, keepdims=True)
    distances = 1 - unit @ unit[row]
    distances[row] = np.inf
    return [m.ids[i] for i in np.argsort(distances, kind="stable")[:k]]


def test_neighbour_lists_are_the_exact_nearest_items_without_the_item_itself() -> None:
    m = matrix()
    lists = m.rank_by_cosine(range(len(m)), 32)
    assert lists.positions.shape == (300, 32) and lists.positions.dtype == np.int32
    for row in (0, 7, 299):
        got = lists.rows([row], m.ids, [32])[0]
        assert [code for code, _ in got] == exact_neighbours(m, row, 32)
        distances = [d for _, d in got]
        assert distances == sorted(distances) and m.ids[row] not in {c for c, _ in got}


def test_a_catalogue_smaller_than_the_list_pads_rows_and_never_returns_padding() -> None:
    m = matrix(n=5)
    lists = m.rank_by_cosine(range(5), 32)
    assert (lists.positions[:, 4:] == -1).all()
    assert [len(r) for r in lists.rows(range(5), m.ids, [32] * 5)] == [4] * 5


def test_best_items_by_inner_product_match_a_float64_scan_with_their_scores() -> None:
    m = matrix()
    queries = np.random.default_rng(1).standard_normal((70, 6)).astype(np.float32)  # more than one chunk of 64
    lists = m.rank_by_inner_product(queries, 50)
    for q in (0, 63, 64, 69):
        scores = m.vectors.astype(np.float64) @ queries[q].astype(np.float64)
        got = lists.rows([q], m.ids, [50])[0]
        assert [c for c, _ in got] == [m.ids[i] for i in np.argsort(-scores, kind="stable")[:50]]
        np.testing.assert_allclose([s for _, s in got], np.sort(scores)[::-1][:50], rtol=1e-5)


def test_answers_come_from_the_lists_only_while_they_hold_enough_items() -> None:
    m = matrix()
    neighbours = m.rank_by_cosine(range(len(m)), 32)
    queries = np.random.default_rng(2).standard_normal((2, 6)).astype(np.float32)
    top = m.rank_by_inner_product(queries, 50)
    with_lists = VersionMatrix(m.version, m.ids, m.vectors, m.unit, m.index, {}, neighbours, top, {101: 0, 102: 1})
    # a stored customer within the list's width: from the list; beyond it, or unknown: not answered by the lists
    assert with_lists.stored_best([(101, 10), (102, 51), (999, 10), (102, 50)]) == {
        0: top.rows([0], m.ids, [10])[0], 3: top.rows([1], m.ids, [50])[0]}
    # similar items: the same answer from the lists as from the scan, and the scan beyond the width
    codes = ["P0003", "P0100", "unknown"]
    listed, scanned = with_lists.nearest_by_cosine(codes, 15), m.nearest_by_cosine(codes, 15)
    for code in ("P0003", "P0100"):
        assert [c for c, _ in listed[code]] == [c for c, _ in scanned[code]]
        np.testing.assert_allclose([d for _, d in listed[code]], [d for _, d in scanned[code]], rtol=1e-6)
    assert len(with_lists.nearest_by_cosine(codes, 40)["P0003"]) == 40
    assert set(with_lists.nearest_by_cosine(codes, 15)) == {"P0003", "P0100"}


def test_lists_read_back_from_the_tables_keep_their_order_and_values() -> None:
    m = matrix(n=10)
    even = RankedLists.from_rows([([3, 1], [0.5, 0.25]), ([2, 0], [1.0, 2.0])])
    assert even.rows([0, 1], m.ids, [5, 1]) == [[("P0003", 0.5), ("P0001", 0.25)], [("P0002", 1.0)]]
    ragged = RankedLists.from_rows([([3, 1], [0.5, 0.25]), ([], [])])
    assert ragged.rows([0, 1], m.ids, [5, 5]) == [[("P0003", 0.5), ("P0001", 0.25)], []]
    assert RankedLists.from_rows([]).width == 0
