"""Writes activity records into a Kinesis stream (the local one on moto) at a given rate, as the platform does.

`PutRecords` in batches of at most 500 records / 5 MiB (Kinesis' limits); records a batch call reports as
failed (`ErrorCode`, e.g. throughput exceeded) are sent again, so every record given is written once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from devstack.streaming.sessions import ActivityRecord

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
"""A record's data blob plus partition key: Kinesis rejects bigger ones."""
MAX_RETRIES = 10


@dataclass(frozen=True)
class Produced:
    records: int
    malformed: int
    bytes: int
    seconds: float


def _batches(records: Iterable[ActivityRecord], limit: int) -> Iterator[list[ActivityRecord]]:
    batch: list[ActivityRecord] = []
    size = 0
    for record in records:
        cost = len(record.data) + len(record.partition_key.encode())
        if cost > MAX_RECORD_BYTES:
            raise ValueError(f"a {cost:,}-byte record: Kinesis takes at most {MAX_RECORD_BYTES:,} bytes per record")
        if batch and (len(batch) >= limit or size + cost > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += cost
    if batch:
        yield batch


def put_records(kinesis: Any, stream: str, records: Iterable[ActivityRecord], *,
                rate: float | None = None) -> Produced:
    """Write every record to `stream`; `rate` caps the events per second (None: as fast as Kinesis takes them)."""
    started = time.monotonic()
    total = bad = size = 0
    batch_limit = MAX_BATCH_RECORDS if not rate else max(1, min(MAX_BATCH_RECORDS, int(rate / 10) or 1))
    for batch in _batches(records, batch_limit):
        pending = batch
        for _attempt in range(MAX_RETRIES):
            response = kinesis.put_records(StreamName=stream, Records=[
                {"Data": r.data, "PartitionKey": r.partition_key} for r in pending])
            if not response.get("FailedRecordCount"):
                break
            pending = [r for r, out in zip(pending, response["Records"], strict=True) if out.get("ErrorCode")]
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{len(pending)} records still rejected by {stream} after {MAX_RETRIES} tries")
        total += len(batch)
        bad += sum(r.malformed for r in batch)
        size += sum(len(r.data) for r in batch)
        if rate:
            ahead = total / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    return Produced(records=total, malformed=bad, bytes=size, seconds=time.monotonic() - started)
