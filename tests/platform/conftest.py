"""The local Airflow platform for the tests: started once per session over the session's test stack, on its own
port (`LOCAL_AIRFLOW_PORT`, 8180 unless set; the demo's is 8080) and state folder (`<LOCAL_STATE_DIR>/platform`),
stopped at the end. The browser test reuses it.

One setting differs from the demo's platform: `platform_healthcheck`'s deadline is 3 s, which every run
outlasts (starting its first task alone takes longer), so a real run misses a real deadline in seconds.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.airflow_local import PlatformConfig, components
from devstack.airflow_local.rest_api import AirflowApi
from devstack.connections import StackConnections
from devstack.stack import StackConfig

os.environ.setdefault("LOCAL_AIRFLOW_PORT", "8180")

HEALTHCHECK_DEADLINE_SECONDS = 3
HEALTHCHECK = "platform_healthcheck"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stops_platform: ends the session's Airflow platform; runs after every "
                                       "other test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("stops_platform") is not None)  # stable: order kept


@pytest.fixture(scope="session")
def airflow_platform(local_stack: StackConfig, seeded_source: dict[str, int]) -> Iterator[PlatformConfig]:
    """The running platform (every component ready); stopped at the end of the session."""
    cfg = PlatformConfig(stack=local_stack, port=int(os.environ["LOCAL_AIRFLOW_PORT"]), settings=(
        ("DATAPLATFORM_PLATFORM_HEALTHCHECK_DEADLINE_SECONDS", str(HEALTHCHECK_DEADLINE_SECONDS)),))
    components.up(cfg)
    yield cfg
    components.down(cfg)


@pytest.fixture(scope="session")
def api(airflow_platform: PlatformConfig) -> Iterator[AirflowApi]:
    """The REST API, logged in as the local admin."""
    client = components.api(airflow_platform)
    yield client
    client.close()


class AlertsQueue:
    """An SQS queue subscribed to the SNS alerts topic, as an operator's mailbox would be."""

    def __init__(self, stack: StackConnections) -> None:
        from dataplatform.config import settings

        self.sqs, self.sns = stack.aws_client("sqs"), stack.aws_client("sns")
        self.url = self.sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.subscription = self.sns.subscribe(TopicArn=settings().alerts_topic_arn, Protocol="sqs",
                                               Endpoint=arn)["SubscriptionArn"]
        self.received: list[dict[str, Any]] = []

    def wait_for(self, matches: Callable[[dict[str, Any]], bool], timeout: float = 120.0) -> list[dict[str, Any]]:
        """Every notification received so far (Subject, Message...) that `matches`, once there is at least one."""
        end = time.monotonic() + timeout
        while True:
            for m in self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=1).get("Messages", []):
                self.received.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            found = [n for n in self.received if matches(n)]
            if found or time.monotonic() > end:
                return found

    def close(self) -> None:
        self.sns.unsubscribe(SubscriptionArn=self.subscription)
        self.sqs.delete_queue(QueueUrl=self.url)


@pytest.fixture(scope="session")
def alerts_queue(stack_connections: StackConnections) -> Iterator[AlertsQueue]:
    queue = AlertsQueue(stack_connections)
    yield queue
    queue.close()


@pytest.fixture(scope="session")
def healthcheck_run(api: AirflowApi, alerts_queue: AlertsQueue) -> dict[str, Any]:
    """One `platform_healthcheck` run triggered through the REST API (the alerts queue subscribed first), finished."""
    run = api.trigger_due(HEALTHCHECK, note="tests/platform")
    return api.wait_for_run(HEALTHCHECK, run["dag_run_id"], timeout=600)
