"""The user-feature model of the live version, for customers without a stored vector ("cold start").

The model (ridge regression from city / country / credit limit to a user vector, `dataplatform.model.cold_start`,
numpy only) is published beside the version's embeddings (`models/<version>/user_feature_model.json|.npz`). It is
read from S3 once per version, the first time the version answers for a customer without a vector, and kept in
memory. A version published without one (the flat `embeddings/` layout), or whose files cannot be read, has none:
those customers get the popular-products fallback. A failed read is retried after `RETRY_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from dataplatform.model.cold_start import UserFeatureModel
from dataplatform.serving.live import LiveModel

MODEL_JSON, MODEL_NPZ = "user_feature_model.json", "user_feature_model.npz"
RETRY_SECONDS = 60.0


class UserFeatureModels:
    """Per model version: its `UserFeatureModel`, or None when it has none (cached; thread-safe)."""

    def __init__(self, s3: Callable[[], Any]) -> None:
        self._s3 = s3
        self._models: dict[str, tuple[UserFeatureModel | None, float]] = {}
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def for_version(self, live: LiveModel) -> UserFeatureModel | None:
        with self._lock:
            hit = self._models.get(live.version)
        if hit is not None and (hit[0] is not None or time.monotonic() - hit[1] < RETRY_SECONDS):
            return hit[0]
        model = self._load(live)
        with self._lock:
            self._models = {live.version: (model, time.monotonic())}  # only the live version's is kept
        return model

    def peek(self, live: LiveModel) -> tuple[bool, UserFeatureModel | None]:
        """(known, model) without any I/O: known is False when `for_version` would have to read S3."""
        with self._lock:
            hit = self._models.get(live.version)
        if hit is None or (hit[0] is None and time.monotonic() - hit[1] >= RETRY_SECONDS):
            return False, None
        return True, hit[0]

    def _load(self, live: LiveModel) -> UserFeatureModel | None:
        prefix = live.artifacts_uri
        if prefix is None:
            self.last_error = f"{live.version}: no S3 location recorded for its files"
            return None
        bucket, _, key_prefix = prefix[5:].partition("/")
        try:
            s3 = self._s3()
            description = s3.get_object(Bucket=bucket, Key=key_prefix + MODEL_JSON)["Body"].read()
            arrays = s3.get_object(Bucket=bucket, Key=key_prefix + MODEL_NPZ)["Body"].read()
            model = UserFeatureModel.from_files(description, arrays)
        except Exception as error:  # noqa: BLE001 - no model: those customers get the fallback
            self.last_error = f"{live.version}: user-feature model not read from {prefix}: {error}"
            return None
        if model.dimension != live.dimension:
            self.last_error = (f"{live.version}: user-feature model of dimension {model.dimension}, the version's "
                               f"vectors have {live.dimension}")
            return None
        self.last_error = None
        return model
