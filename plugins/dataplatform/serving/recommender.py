"""The recommender: user-activity events in, recommendation records out (interface; implementation follows)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataplatform.serving.models import Recommendation, UserActivityEvent

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def from_uri(cls, uri: str) -> S3Location:
        """`s3://bucket/key` -> S3Location."""
        if not uri.startswith("s3://") or "/" not in uri[5:]:
            raise ValueError(f"expected s3://bucket/key, got {uri!r}")
        bucket, key = uri[5:].split("/", 1)
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ServingOptions:
    k: int = 10
    """recommended_items per record."""
    similar_k: int = 5
    """similar items per browsed product."""
    deadline_seconds: float = 0.2
    """Budget for the database part of one call; past it the call answers with the fallback."""


class Recommender:
    """Answers user-activity events from the live model version (see the module docstring)."""

    def __init__(
        self,
        connect: str | Callable[[], psycopg.Connection],
        *,
        popular_copy: S3Location | None = None,
        s3: Any | None = None,
        options: ServingOptions | None = None,
    ) -> None:
        self._connect = connect
        self._popular_copy = popular_copy
        self._s3 = s3
        self.options = options or ServingOptions()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Recommender:
        raise NotImplementedError

    def warm(self) -> None:
        """Connect, resolve the live model and load the fallback ranking now (Lambda init), never raising."""
        raise NotImplementedError

    def recommend(self, event: UserActivityEvent) -> Recommendation:
        return self.recommend_batch([event])[0]

    def recommend_batch(self, events: Sequence[UserActivityEvent]) -> list[Recommendation]:
        """One recommendation per event, in order, computed for the whole batch at once (a few round trips)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
