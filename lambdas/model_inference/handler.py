"""Model-inference Lambda: a user-activity event in, its recommendation record out (direct invoke or function URL).

Handler `handler.handler` (this folder is the zip root). The core is `inference`; this module wires Powertools
(logs, metrics, the function URL resolver) and the serving package's `Recommender`, created once per container
from the environment (`Recommender.from_env`: `DATAPLATFORM_VECTOR_DSN` or `DATAPLATFORM_VECTOR_SECRET_ARN`,
`DATAPLATFORM_POPULAR_COPY_URI`) and warmed at init, so a request pays only for its own queries.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from inference import answer_direct, answer_http, is_function_url_event

from dataplatform.serving.recommender import Recommender

SERVICE, NAMESPACE = "model_inference", "Recommender"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
app = LambdaFunctionUrlResolver()
recommender = Recommender.from_env()
recommender.warm()


def _record_metrics(status: int, body: dict[str, Any], started: float) -> None:
    metrics.add_metric(name="InferenceLatency", unit=MetricUnit.Milliseconds,
                       value=(time.perf_counter() - started) * 1000)
    records = body.get("recommendations", [body]) if status == 200 and "error" not in body else []
    fallbacks = [r for r in records if r.get("fallback")]
    metrics.add_metric(name="Recommendations", unit=MetricUnit.Count, value=len(records))
    metrics.add_metric(name="RecommendationsFallback", unit=MetricUnit.Count, value=len(fallbacks))
    if "error" in body:
        metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        logger.warning("invalid request", extra={"error": body["error"], "problems": body.get("problems")})
    elif fallbacks:
        logger.warning("answered from the fallback", extra={
            "reasons": sorted({r["fallback_reason"] for r in fallbacks}), "status": recommender.status()})


@app.post("/")
@app.post("/recommendations")
def recommend_http() -> Response:
    started = time.perf_counter()
    status, body = answer_http(recommender, app.current_event.decoded_body)
    _record_metrics(status, body, started)
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_function_url_event(event):
        return app.resolve(event, context)
    started = time.perf_counter()
    body = answer_direct(recommender, event)
    _record_metrics(200, body, started)
    return body
