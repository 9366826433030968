"""Serving: the recommender the Lambdas ship (model inference, Firehose transformation). Plain Python.

Public API:

- `models`: `UserActivityEvent` (the Kinesis event, strict and bounded), `Recommendation` (the record: the event
  plus `recommended_items` [`RecommendedItem(id, score)`], `similar_items` [`SimilarItems(product_code,
  similar_items=[SimilarItem(id, distance)])`], `model_version`, `fallback`, `fallback_reason`), `FallbackReason`.
- `recommender`: `Recommender(connect, popular_copy=S3Location | None, s3=None, options=ServingOptions())` with
  `recommend(event)`, `recommend_batch(events, deadline_seconds=None)`, `warm()`, `status()`, `close()`, and
  `Recommender.from_env()` for a Lambda.
- `live`: the lock-free read path (`live_model`, `LiveModel`, `LIVE_CACHE_SECONDS`, `RETIRED_GRACE_SECONDS`);
  `queries`: the batched reads; `popular`: the fallback ranking and its S3 copy (`PopularProductsCopy`).

Imports neither Airflow nor the loader (`dataplatform.vectordb`) nor the batch code (`dataplatform.batch`), only
`dataplatform.model.cold_start` (numpy) besides itself; Airflow-side modules may import it, never the reverse
(`tests/plugins/serving/test_import_boundary.py`). Its SQL ships inside the package (`serving/sql/*.sql`, read
with `importlib.resources`: `sql_files`), so a Lambda zip needs nothing from `include/`.
"""
