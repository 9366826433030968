"""Read, check and write the data scientist's embeddings CSV files.

The ML artifacts bucket holds `item_embeddings.csv` (one row per `productCode`) and
`user_embeddings.csv` (one row per `customerNumber`), both shaped

    id,embedding
    S10_1678,"[0.12,-0.5,0.3]"

where `embedding` is a pgvector text literal. The dimension is read from the data, never assumed: every
row of both files must have the same one. Nothing here knows about Airflow, S3 or PostgreSQL:
`read_embeddings` takes a path or a text stream and either returns an `EmbeddingsTable` or raises one
`EmbeddingsFileError` that names the file, the lines and the problem of the first few offending rows.
`check_pair` then checks the two files against each other and against the source catalogue, and
`write_embeddings` produces the same format (used by the reference model to publish).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

import numpy as np

Kind = Literal["item", "user"]

HEADER = ("id", "embedding")
MAX_REPORTED = 5
"""How many problems an `EmbeddingsFileError` message spells out (the total is always given)."""

_NUMBER = r"\s*[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|nan|inf(?:inity)?)\s*"
_VECTOR_LITERAL = re.compile(rf"\[{_NUMBER}(?:,{_NUMBER})*\]", re.IGNORECASE)
_CUSTOMER_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file; `line` is 1-based, None for a whole-file problem."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source} line {self.line}"
        return f"{where}: {self.message}"


class EmbeddingsFileError(ValueError):
    """An embeddings file (or pair of files) that must not be loaded.

    `problems` holds the first `MAX_REPORTED` problems in file order, `total` counts them all.
    """

    def __init__(self, problems: Sequence[Problem], total: int | None = None) -> None:
        if not problems:
            raise ValueError("an EmbeddingsFileError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems[:MAX_REPORTED])
        self.total: int = len(problems) if total is None else total
        sources = ", ".join(dict.fromkeys(p.source for p in self.problems))
        lines = [f"{self.total} problem(s) in {sources}:"]
        lines += [f"  {p}" for p in self.problems]
        if self.total > len(self.problems):
            lines.append(f"  ... and {self.total - len(self.problems)} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, eq=False)
class EmbeddingsTable:
    """The parsed content of one valid embeddings file.

    `lines[k]` is the file line of `ids[k]` / `vectors[k]`, kept to name lines in later checks.
    """

    kind: Kind
    ids: list[str] | list[int]
    vectors: np.ndarray  # float32, shape (n, dimension)
    lines: np.ndarray  # int64, shape (n,)
    dimension: int
    source: str

    def __len__(self) -> int:
        return len(self.ids)


class _Problems:
    """Counts every problem, keeps only the first few (by line) so a broken 1M-row file costs no memory."""

    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.total = 0

    def add(self, problem: Problem) -> None:
        self.total += 1
        self.kept.append(problem)
        if len(self.kept) > 4 * MAX_REPORTED:
            self.kept = sorted(self.kept, key=_file_order)[:MAX_REPORTED]

    def raise_if_any(self) -> None:
        if self.total:
            raise EmbeddingsFileError(sorted(self.kept, key=_file_order), self.total)


def _file_order(problem: Problem) -> tuple[bool, str, int]:
    """Whole-file problems first, then by file and line."""
    return (problem.line is not None, problem.source, problem.line or 0)


def _shorten(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _parse_id(raw: str, kind: Kind) -> str | int:
    """The id of one row, or raise ValueError explaining why it is not one."""
    if kind == "user":
        if not _CUSTOMER_NUMBER.fullmatch(raw):
            raise ValueError(f"user id {_shorten(raw)} is not an integer customerNumber")
        return int(raw)
    if not raw or raw != raw.strip():
        raise ValueError(f"item id {_shorten(raw)} is empty or has surrounding spaces")
    return raw


def _parse_vector(raw: str) -> np.ndarray:
    """A pgvector text literal as float32, or raise ValueError explaining why it is not one."""
    if not raw:
        raise ValueError("embedding is empty")
    if not _VECTOR_LITERAL.fullmatch(raw):
        hint = " (truncated?)" if raw.startswith("[") and not raw.endswith("]") else ""
        raise ValueError(f"malformed embedding {_shorten(raw)}{hint}: expected '[x1,x2,...]' of numbers")
    with np.errstate(over="ignore"):
        vector = np.array(raw[1:-1].split(","), dtype=np.float64).astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(vector))
    if bad.size:
        position = int(bad[0])
        value = raw[1:-1].split(",")[position].strip()
        raise ValueError(
            f"non-finite value {value!r} at position {position + 1} of the embedding "
            "(NaN, infinity or beyond float32 range)"
        )
    if float(np.dot(vector, vector)) == 0.0:  # in float32, as pgvector computes it: catches underflow too
        raise ValueError("zero vector (every coordinate 0, or too small for float32): cosine distance is "
                         "undefined for it")
    return vector


def read_embeddings(
    file: str | os.PathLike[str] | TextIO, *, kind: Kind, source: str | None = None
) -> EmbeddingsTable:
    """Parse and check one embeddings file, streaming it row by row.

    `file` is a path or a text stream (for bytes from S3: `io.TextIOWrapper(body, "utf-8", newline="")`).
    `source` names the file in messages (default: the path or the stream's `name`).
    Raises `EmbeddingsFileError` listing the first `MAX_REPORTED` problems and their total.
    """
    if isinstance(file, (str, os.PathLike)):
        with open(file, encoding="utf-8-sig", newline="") as stream:
            return read_embeddings(stream, kind=kind, source=source or os.fspath(file))
    name = source or str(getattr(file, "name", "<stream>"))
    reader = csv.reader(file, strict=True)
    problems = _Problems()

    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as error:
        raise EmbeddingsFileError([Problem(name, 1, f"unreadable header: {error}")]) from error
    if header is None:
        raise EmbeddingsFileError([Problem(name, None, "empty file: no header, no rows")])
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if tuple(header) != HEADER:
        looks_like_data = len(header) == 2 and header[1].startswith("[")
        problem = "missing header" if looks_like_data else "wrong header"
        raise EmbeddingsFileError(
            [Problem(name, 1, f"{problem}: expected 'id,embedding', got {_shorten(','.join(header))}")]
        )

    ids: list[str | int] = []
    vectors: list[np.ndarray] = []
    lines: list[int] = []
    first_line_of: dict[str | int, int] = {}
    last_line = reader.line_num
    while True:
        line = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            message = f"unparseable CSV: {error}"
            if "end of data" in str(error):
                message = "file ends inside a quoted field (truncated?)"
            problems.add(Problem(name, line, message))
            last_line = max(reader.line_num, line)
            continue
        except UnicodeDecodeError as error:
            message = f"not UTF-8 text at or after this line ({error.reason}); reading stopped"
            problems.add(Problem(name, line, message))
            break
        last_line = reader.line_num
        if not row:
            continue  # blank line: carries no data
        if reader.line_num > line:
            message = f"record spans lines {line}-{reader.line_num} (unbalanced quote?)"
            problems.add(Problem(name, line, message))
            continue
        if len(row) != 2:
            hint = " (is the embedding quoted?)" if len(row) > 2 else " (truncated?)"
            problems.add(Problem(name, line, f"expected 2 fields (id,embedding), got {len(row)}{hint}"))
            continue
        try:
            row_id = _parse_id(row[0], kind)
            vector = _parse_vector(row[1])
        except ValueError as error:
            problems.add(Problem(name, line, str(error)))
            continue
        if row_id in first_line_of:
            message = f"duplicate id {row_id!r}, first at line {first_line_of[row_id]}"
            problems.add(Problem(name, line, message))
            continue
        first_line_of[row_id] = line
        ids.append(row_id)
        vectors.append(vector)
        lines.append(line)

    if not ids and not problems.total:
        raise EmbeddingsFileError([Problem(name, None, "empty file: header but no rows")])
    dimension = _check_dimensions(vectors, lines, name, problems)
    problems.raise_if_any()
    return EmbeddingsTable(
        kind=kind,
        ids=ids,  # type: ignore[arg-type]
        vectors=np.stack(vectors),
        lines=np.asarray(lines, dtype=np.int64),
        dimension=dimension,
        source=name,
    )


def _check_dimensions(vectors: list[np.ndarray], lines: list[int], name: str, problems: _Problems) -> int:
    """The file's dimension (the most common one, so one odd first row does not flag all the others)."""
    sizes = Counter(v.size for v in vectors)
    if not sizes:
        return 0
    dimension, count = sizes.most_common(1)[0]
    for vector, line in zip(vectors, lines, strict=True):
        if vector.size != dimension:
            message = f"embedding has dimension {vector.size}, while {count} rows have {dimension}"
            problems.add(Problem(name, line, message))
    return dimension


def check_pair(
    items: EmbeddingsTable,
    users: EmbeddingsTable,
    *,
    known_products: set[str],
    known_customers: set[int],
    min_product_coverage: float,
) -> None:
    """Check an item file and a user file against each other and against the source catalogue.

    Same dimension in both files; every item id is a known productCode; every user id is a known
    customerNumber; the items cover at least `min_product_coverage` (0..1) of the known products.
    Raises one `EmbeddingsFileError` with file-level problems first, then offending lines.
    """
    if items.kind != "item" or users.kind != "user":
        raise ValueError(f"check_pair needs an item and a user table, got {items.kind} and {users.kind}")
    problems = _Problems()
    if items.dimension != users.dimension:
        problems.add(
            Problem(
                f"{items.source} and {users.source}",
                None,
                f"dimensions differ: {items.dimension} for items, {users.dimension} for users",
            )
        )
    if known_products:
        covered = len(known_products.intersection(items.ids))
        share = covered / len(known_products)
        if share < min_product_coverage:
            problems.add(
                Problem(
                    items.source,
                    None,
                    f"covers {covered} of {len(known_products)} products ({share:.1%}), "
                    f"below the minimum {min_product_coverage:.1%}",
                )
            )
    for table, known, what in ((items, known_products, "product"), (users, known_customers, "customer")):
        for row_id, line in zip(table.ids, table.lines.tolist(), strict=True):
            if row_id not in known:
                problems.add(Problem(table.source, line, f"unknown {what} {row_id!r}"))
    problems.raise_if_any()


def write_embeddings(stream: TextIO, ids: Sequence[str] | Sequence[int], vectors: np.ndarray) -> None:
    """Write `ids` and their `vectors` in the format `read_embeddings` reads.

    Values are written with 9 significant digits, which round-trips float32 exactly. Open files with
    `newline=""`. Refuses (ValueError) what `read_embeddings` would reject: a non-2-D or non-finite
    array, a zero vector, a length mismatch, duplicate ids.
    """
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"vectors must be a non-empty 2-D array, got shape {matrix.shape}")
    if len(ids) != matrix.shape[0]:
        raise ValueError(f"{len(ids)} ids for {matrix.shape[0]} vectors")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors contain NaN or infinite values")
    if not np.einsum("ij,ij->i", matrix, matrix).all():
        raise ValueError("vectors contain a zero vector (cosine distance is undefined for it)")
    if len(set(ids)) != len(ids):
        raise ValueError("ids are not unique")
    row_format = "[" + ",".join(["%.9g"] * matrix.shape[1]) + "]"
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(HEADER)
    for row_id, vector in zip(ids, matrix.tolist(), strict=True):
        writer.writerow((str(row_id), row_format % tuple(vector)))


def embeddings_csv_bytes(ids: Sequence[str] | Sequence[int], vectors: np.ndarray) -> bytes:
    """`write_embeddings` into UTF-8 bytes, ready for an S3 put."""
    buffer = io.StringIO(newline="")
    write_embeddings(buffer, ids, vectors)
    return buffer.getvalue().encode("utf-8")
