"""What every DAG of the platform shares: owner, retries, and the SNS alert on failure.

Defined once here so the integrity tests can assert on it and a DAG file stays pure wiring.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from dataplatform.config import settings

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

OWNER = "data-platform"

FAILURE_MESSAGE = (
    "Airflow task failed: {{ dag.dag_id }}.{{ ti.task_id }} (run {{ run_id }}, try {{ ti.try_number }}).\n"
    "Error: {{ exception }}\nLog: {{ ti.log_url }}"
)


def failure_alert() -> SnsNotifier:
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier  # boto3: paid on failure, not parse

    s = settings()
    return SnsNotifier(
        aws_conn_id=s.aws_conn_id,
        target_arn=s.alerts_topic_arn,
        subject="[{{ dag.dag_id }}] task {{ ti.task_id }} failed",
        message=FAILURE_MESSAGE,
        region_name=s.region,
    )


def alert_on_failure(context: Any) -> None:
    """A fresh notifier per failure: a notifier renders its templates in place, so a shared instance would
    repeat the first failure's message for every later one in the same process."""
    failure_alert()(context)


def default_args() -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=settings().retry_delay_seconds),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "on_failure_callback": alert_on_failure,
    }


@contextmanager
def no_retry_on(*errors: type[Exception]) -> Iterator[None]:
    """Deterministic failures (bad data, drifted schema) fail the task at once: retrying cannot fix them."""
    try:
        yield
    except errors as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
