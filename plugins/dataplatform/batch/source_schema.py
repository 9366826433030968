"""Source schema contracts (`include/contracts/*.yaml`: the training export's, the sales dashboard's) and their
check against the live source.

A contract column may name the platform team's `announced` schema change it comes with: while the column is
missing, the check says so, naming the column and the announcement, instead of reporting plain drift.

Plain Python: the DAG passes in the rows of an information_schema query (`include/sql/select_source_columns.sql`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    feature: bool = False
    label: bool = False
    min: int | None = None
    max: int | None = None
    announced: str | None = None
    """The announced schema change that adds this column, for a source that does not have it yet."""


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    ignored: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns if c.feature]


@dataclass(frozen=True)
class Contract:
    tables: tuple[Table, ...]

    @classmethod
    def load(cls, path: Path) -> Contract:
        raw = yaml.safe_load(path.read_text())
        return cls(tables=tuple(
            Table(
                name=name,
                key=tuple(spec["key"]),
                columns=tuple(Column(name=col, **attrs) for col, attrs in spec["columns"].items()),
                ignored=tuple(spec.get("ignored", ())),
            )
            for name, spec in raw["tables"].items()
        ))

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    @property
    def label(self) -> Column:
        return next(c for t in self.tables for c in t.columns if c.label)

    @property
    def output_columns(self) -> list[str]:
        """Training-set columns, in order: user features, product features, label."""
        return [*self.table("customers").features, *self.table("products").features, self.label.name]

    def job_argument(self) -> str:
        """The contract as the Glue job receives it (`--contract`): everything the script needs, nothing else."""
        label = self.label
        return json.dumps({
            "tables": {t.name: {"key": list(t.key), "columns": [c.name for c in t.columns]} for t in self.tables},
            "user_features": self.table("customers").features,
            "product_features": self.table("products").features,
            "label": {"name": label.name, "min": label.min, "max": label.max},
            "output_columns": self.output_columns,
        }, separators=(",", ":"))


@dataclass(frozen=True)
class LiveColumn:
    table: str
    name: str
    column_type: str
    nullable: bool
    primary_key: bool


@dataclass
class SchemaReport:
    errors: list[str] = field(default_factory=list)
    new_columns: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"errors": self.errors, "new_columns": self.new_columns}


class SchemaDriftError(RuntimeError):
    """The live source no longer matches the contract; the message lists every mismatch."""


_INT_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|bigint)\(\d+\)")


def normalise_type(column_type: str) -> str:
    """MySQL 5.7 / MariaDB report `int(11)`, MySQL 8 reports `int`: compare without display width."""
    return _INT_WIDTH.sub(r"\1", column_type.strip().lower().replace(", ", ","))


def compare(contract: Contract, live: list[LiveColumn]) -> SchemaReport:
    report = SchemaReport()
    for table in contract.tables:
        found = {c.name: c for c in live if c.table == table.name}
        if not found:
            report.errors.append(f"{table.name}: table missing (or not visible to the export's user)")
            continue
        for col in table.columns:
            got = found.get(col.name)
            if got is None:
                renamed = [n for n in found if n.lower() == col.name.lower()]
                hint = f" (found {renamed[0]!r}: renamed?)" if renamed else ""
                if col.announced and not renamed:
                    hint = (f"; not on the source yet: this pipeline waits for {' '.join(col.announced.split())}"
                            " to be applied to the read replica")
                report.errors.append(f"{table.name}.{col.name}: missing, expected {col.type}{hint}")
            elif normalise_type(got.column_type) != normalise_type(col.type):
                report.errors.append(
                    f"{table.name}.{col.name}: type changed, expected {col.type}, found {got.column_type}"
                )
            elif got.nullable and not col.nullable:
                report.errors.append(f"{table.name}.{col.name}: expected NOT NULL, found NULL allowed")
        live_key = tuple(sorted(n for n, c in found.items() if c.primary_key))
        if live_key != tuple(sorted(table.key)):
            report.errors.append(
                f"{table.name}: primary key changed, expected {list(table.key)}, found {list(live_key)}"
            )
        known = {c.name for c in table.columns} | set(table.ignored)
        new = [n for n in found if n not in known]
        if new:
            report.new_columns[table.name] = new
    return report


def check(contract: Contract, live: list[LiveColumn],
          contract_file: str = "include/contracts/training_source.yaml") -> SchemaReport:
    report = compare(contract, live)
    if report.errors:
        raise SchemaDriftError(
            f"source schema drifted from {contract_file}:\n  " + "\n  ".join(report.errors)
        )
    return report
