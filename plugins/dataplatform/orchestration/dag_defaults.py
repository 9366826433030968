"""What every DAG of the platform shares: owner, retries, the configuration check at task start, the SNS alert
on failure, and the `dataplatform` template macro.

Defined once here so the integrity tests can assert on it and a DAG file stays pure wiring.

Retries: every task retries transient failures (a database refusing a connection, a throttled AWS call) twice
with exponential back-off. Deterministic failures run exactly once: a task wraps them in `no_retry_on(...)`,
which turns them into `AirflowFailException`; a missing configuration fails every task the same way at start
(when a template names a setting, or else in `pre_execute`), before it touches anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from dataplatform.config import ConfigurationError, Settings, parse_time, settings

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

OWNER = "data-platform"

FAILURE_MESSAGE = (
    "Airflow task failed: {{ dag.dag_id }}.{{ ti.task_id }} (run {{ run_id }}, try {{ ti.try_number }}).\n"
    "Error: {{ exception }}\nLog: {{ ti.log_url }}"
)


@contextmanager
def no_retry_on(*errors: type[Exception]) -> Iterator[None]:
    """Deterministic failures (bad data, drifted schema) fail the task at once: retrying cannot fix them."""
    try:
        yield
    except errors as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def configured() -> Settings:
    """`settings()` for a running task: a missing or malformed value fails the task without retries."""
    with no_retry_on(ConfigurationError):
        return settings()


def check_configuration(context: Any) -> None:
    """`pre_execute` of every task: nothing runs in an environment that does not say which account to use."""
    configured()


class _SettingsMacro:
    """`{{ dataplatform.<name> }}` in templated fields: the configured value, checked when the task renders."""

    def __getattr__(self, name: str) -> Any:
        return getattr(configured(), name)


MACROS: dict[str, Any] = {"dataplatform": _SettingsMacro()}
"""The DAGs' `user_defined_macros`: what `config.templated()` names render against."""


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
    repeat the first failure's message for every later one in the same process. Without configuration there
    is no topic to alert: the task's own error already says what to set."""
    try:
        notifier = failure_alert()
    except ConfigurationError:
        return
    notifier(context)


def default_args() -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=parse_time().retry_delay_seconds),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "pre_execute": check_configuration,
        "on_failure_callback": alert_on_failure,
    }
