"""Firehose data-transformation Lambda: user-activity events in, recommendation records out.

Handler `handler.handler` (this folder is the zip root). The core is `transformation.transform`; this module
only wires Powertools (logs, metrics, the Firehose event data class) and the `Recommender`, created once per
container from the environment (`Recommender.from_env`) and warmed at init.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent, event_source
from aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event import KinesisFirehoseRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from transformation import Rejected, batch_deadline, transform

from dataplatform.serving.recommender import Recommender

SERVICE, NAMESPACE = "stream_transformation", "Recommender"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
recommender = Recommender.from_env()
recommender.warm()


def log_failure(record: KinesisFirehoseRecord, rejected: Rejected) -> None:
    meta = record.get("kinesisRecordMetadata") or {}
    logger.warning("record ProcessingFailed", extra={
        "record_id": record.record_id, "reason": rejected.failure.value, "detail": rejected.detail,
        "shard_id": meta.get("shardId"), "sequence_number": meta.get("sequenceNumber")})


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=KinesisFirehoseEvent)
def handler(event: KinesisFirehoseEvent, context: LambdaContext) -> dict[str, Any]:
    outcome = transform(event, recommender, on_failure=log_failure,
                        deadline_seconds=batch_deadline(context.get_remaining_time_in_millis()))
    metrics.add_metric(name="RecordsOk", unit=MetricUnit.Count, value=outcome.ok)
    metrics.add_metric(name="RecordsFallback", unit=MetricUnit.Count, value=outcome.fallbacks)
    metrics.add_metric(name="InferenceLatency", unit=MetricUnit.Milliseconds, value=outcome.inference_seconds * 1000)
    for reason in sorted(set(outcome.failures.values())):
        with single_metric(name="RecordsProcessingFailed", unit=MetricUnit.Count, namespace=NAMESPACE,
                           value=sum(f is reason for f in outcome.failures.values())) as metric:
            metric.add_dimension(name="reason", value=reason.value)
    logger.info("batch answered", extra={"records": len(outcome.records), "ok": outcome.ok,
                                         "processing_failed": len(outcome.failures), "fallback": outcome.fallbacks})
    return outcome.response()
