"""Validation of the data scientist's embeddings CSV files (`dataplatform.embeddings_file`)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from dataplatform.vectordb.embeddings_file import (
    EmbeddingsFileError,
    EmbeddingsTable,
    check_pair,
    read_embeddings,
    write_embeddings,
)

ITEMS = """id,embedding
S10_1678,"[0.12,-0.5,0.3]"
S10_1949,"[1,2.5e-3,-7]"
S12_1099,"[0,0,1]"
"""
USERS = """id,embedding
103,"[0.1,0.2,0.3]"
112,"[-1,0.5,2]"
"""
PRODUCTS = {"S10_1678", "S10_1949", "S12_1099"}
CUSTOMERS = {103, 112, 114}


def read_items(text: str) -> EmbeddingsTable:
    return read_embeddings(io.StringIO(text, newline=""), kind="item", source="item_embeddings.csv")


def read_users(text: str) -> EmbeddingsTable:
    return read_embeddings(io.StringIO(text, newline=""), kind="user", source="user_embeddings.csv")


def check(items: EmbeddingsTable, users: EmbeddingsTable, min_product_coverage: float = 0.0) -> None:
    check_pair(
        items,
        users,
        known_products=PRODUCTS,
        known_customers=CUSTOMERS,
        min_product_coverage=min_product_coverage,
    )


def problem_text(error: pytest.ExceptionInfo[EmbeddingsFileError]) -> str:
    return str(error.value)


def test_valid_files_parse_with_the_dimension_of_the_data() -> None:
    items, users = read_items(ITEMS), read_users(USERS)

    assert items.ids == ["S10_1678", "S10_1949", "S12_1099"]
    assert users.ids == [103, 112]
    assert items.dimension == users.dimension == 3
    assert items.vectors.dtype == np.float32 and items.vectors.shape == (3, 3)
    np.testing.assert_allclose(items.vectors[1], [1, 0.0025, -7])
    assert items.lines.tolist() == [2, 3, 4]


def test_valid_pair_passes() -> None:
    check(read_items(ITEMS), read_users(USERS), min_product_coverage=1.0)


def test_row_with_other_dimension_names_file_and_line() -> None:
    text = ITEMS + 'S12_1108,"[0.1,0.2]"\n'

    with pytest.raises(EmbeddingsFileError) as error:
        read_items(text)

    assert "item_embeddings.csv line 5: embedding has dimension 2, while 3 rows have 3" in problem_text(error)
    assert error.value.total == 1


def test_odd_first_row_does_not_flag_every_other_row() -> None:
    text = 'id,embedding\nS1,"[1,2]"\nS2,"[1,2,3]"\nS3,"[1,2,3]"\nS4,"[1,2,3]"\n'

    with pytest.raises(EmbeddingsFileError) as error:
        read_items(text)

    assert error.value.total == 1
    assert error.value.problems[0].line == 2


def test_nan_names_file_line_and_value() -> None:
    text = ITEMS + 'S12_1108,"[0.1,NaN,0.3]"\n'

    with pytest.raises(EmbeddingsFileError) as error:
        read_items(text)

    assert "item_embeddings.csv line 5: non-finite value 'NaN' at position 2" in problem_text(error)


@pytest.mark.parametrize("literal", ["[0,0,0]", "[0.0,-0.0,0e5]", "[1e-30,0,-1e-30]"],
                         ids=["zeros", "signed-zeros", "underflows-in-float32"])
def test_zero_vector_names_file_and_line(literal: str) -> None:
    text = ITEMS + f'S12_1108,"{literal}"\n'

    with pytest.raises(EmbeddingsFileError) as error:
        read_items(text)

    assert "item_embeddings.csv line 5: zero vector" in problem_text(error)
    assert "cosine distance is undefined" in problem_text(error)


def test_value_beyond_float32_range_is_non_finite() -> None:
    with pytest.raises(EmbeddingsFileError, match="line 2: non-finite value '1e39'"):
        read_items('id,embedding\nS1,"[1e39,0,0]"\n')


def test_duplicate_id_names_both_lines() -> None:
    text = ITEMS + 'S10_1949,"[1,1,1]"\n'

    with pytest.raises(EmbeddingsFileError) as error:
        read_items(text)

    assert "item_embeddings.csv line 5: duplicate id 'S10_1949', first at line 3" in problem_text(error)


def test_unknown_product_names_file_and_line() -> None:
    items = read_items(ITEMS + 'S99_9999,"[1,1,1]"\n')

    with pytest.raises(EmbeddingsFileError) as error:
        check(items, read_users(USERS))

    assert "item_embeddings.csv line 5: unknown product 'S99_9999'" in problem_text(error)


def test_unknown_customer_names_file_and_line() -> None:
    users = read_users(USERS + '999,"[1,1,1]"\n')

    with pytest.raises(EmbeddingsFileError, match=r"user_embeddings\.csv line 4: unknown customer 999"):
        check(read_items(ITEMS), users)


def test_low_product_coverage_names_file_and_share() -> None:
    with pytest.raises(EmbeddingsFileError, match=r"item_embeddings.csv: covers 3 of 6 products \(50.0%\)"):
        check_pair(
            read_items(ITEMS),
            read_users(USERS),
            known_products=PRODUCTS | {"A", "B", "C"},
            known_customers=CUSTOMERS,
            min_product_coverage=0.9,
        )


def test_pair_with_different_dimensions_is_rejected() -> None:
    users = read_users('id,embedding\n103,"[1,2]"\n')

    with pytest.raises(EmbeddingsFileError, match="dimensions differ: 3 for items, 2 for users"):
        check(read_items(ITEMS), users)


@pytest.mark.parametrize(
    "text", ["", "id,embedding\n", "id,embedding\n\n"], ids=["zero-bytes", "header-only", "blank-lines"]
)
def test_empty_file_is_rejected(text: str) -> None:
    with pytest.raises(EmbeddingsFileError) as error:
        read_items(text)

    assert "item_embeddings.csv: empty file" in problem_text(error)


def test_missing_header_names_file_and_line_1() -> None:
    with pytest.raises(EmbeddingsFileError) as error:
        read_items(ITEMS.split("\n", 1)[1])

    assert "item_embeddings.csv line 1: missing header: expected 'id,embedding'" in problem_text(error)


def test_wrong_header_is_rejected() -> None:
    with pytest.raises(EmbeddingsFileError) as error:
        read_items('id,vector\nS1,"[1]"\n')

    assert "line 1: wrong header: expected 'id,embedding', got 'id,vector'" in problem_text(error)


@pytest.mark.parametrize(
    ("last_line", "problem"),
    [
        ('S12_1108,"[0.1,0.2', "file ends inside a quoted field (truncated?)"),
        ('S12_1108,"[0.1,0.2\n', "file ends inside a quoted field (truncated?)"),
        ("S12_1108", "expected 2 fields (id,embedding), got 1 (truncated?)"),
        ("S12_1108,", "embedding is empty"),
        ('S12_1108,"[0.1,0.2"', "malformed embedding '[0.1,0.2' (truncated?)"),
    ],
    ids=["open-quote", "open-quote-newline", "id-only", "empty-embedding", "no-bracket"],
)
def test_truncated_last_line_names_file_and_line(last_line: str, problem: str) -> None:
    with pytest.raises(EmbeddingsFileError) as error:
        read_items(ITEMS + last_line)

    assert f"item_embeddings.csv line 5: {problem}" in problem_text(error)


def test_unquoted_embedding_hints_at_quoting() -> None:
    with pytest.raises(EmbeddingsFileError) as error:
        read_items("id,embedding\nS1,[1,2,3]\n")

    assert "line 2: expected 2 fields (id,embedding), got 4 (is the embedding quoted?)" in problem_text(error)


@pytest.mark.parametrize("user_id", ["S10_1678", "103.0", "-5", ""])
def test_non_integer_user_id_names_file_and_line(user_id: str) -> None:
    with pytest.raises(EmbeddingsFileError) as error:
        read_users(USERS + f'{user_id},"[1,1,1]"\n')

    expected = f"user_embeddings.csv line 4: user id {user_id!r} is not an integer customerNumber"
    assert expected in problem_text(error)


@pytest.mark.parametrize("literal", ["[1,,2]", "1,2,3", "[1,2,3", "[1;2;3]", "[0x1,2,3]", "[1_0,2,3]", "[]"])
def test_malformed_vector_literal_is_rejected(literal: str) -> None:
    with pytest.raises(EmbeddingsFileError, match="line 2: malformed embedding"):
        read_items(f'id,embedding\nS1,"{literal}"\n')


def test_message_lists_first_five_problems_and_the_total() -> None:
    rows = "".join(f'S{n},"[1,nan]"\n' for n in range(8))

    with pytest.raises(EmbeddingsFileError) as error:
        read_items("id,embedding\n" + rows)

    assert error.value.total == 8
    assert [p.line for p in error.value.problems] == [2, 3, 4, 5, 6]
    assert problem_text(error).startswith("8 problem(s) in item_embeddings.csv:")
    assert problem_text(error).endswith("... and 3 more")


def test_reads_a_path_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "item_embeddings.csv"
    path.write_text(ITEMS, encoding="utf-8-sig")

    table = read_embeddings(path, kind="item")

    assert table.source == str(path)
    assert len(table) == 3


def test_writer_round_trips_exactly() -> None:
    rng = np.random.default_rng(0)
    scales = 10.0 ** rng.integers(-15, 15, (50, 1))  # wide, yet every norm is a float32 (1e-30: a zero vector)
    vectors = (rng.normal(size=(50, 32)) * scales).astype(np.float32)
    ids = [f"S{n}_{n * 7}" for n in range(50)]
    buffer = io.StringIO(newline="")

    write_embeddings(buffer, ids, vectors)
    table = read_items(buffer.getvalue())

    assert buffer.getvalue().splitlines()[0] == "id,embedding"
    assert table.ids == ids
    assert table.dimension == 32
    np.testing.assert_array_equal(table.vectors, vectors)


def test_writer_output_for_users_reads_back_as_integer_ids() -> None:
    buffer = io.StringIO(newline="")

    write_embeddings(buffer, np.array([103, 112]), np.array([[0.5, -1.0], [2.0, 0.25]]))

    assert buffer.getvalue() == 'id,embedding\n103,"[0.5,-1]"\n112,"[2,0.25]"\n'
    assert read_users(buffer.getvalue()).ids == [103, 112]


@pytest.mark.parametrize(
    ("ids", "vectors"),
    [
        (["a"], np.array([[np.nan, 1.0]])),
        (["a"], np.zeros((1, 2))),
        (["a", "a"], np.ones((2, 2))),
        (["a"], np.ones((2, 2))),
        (["a"], np.ones(2)),
    ],
    ids=["nan", "zero", "duplicate", "length", "one-dimensional"],
)
def test_writer_refuses_what_the_reader_would_reject(ids: list[str], vectors: np.ndarray) -> None:
    with pytest.raises(ValueError):
        write_embeddings(io.StringIO(), ids, vectors)
