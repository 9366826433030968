"""The Airflow UI in a real browser: Debian's chromium driven by Playwright (no browser is ever downloaded), on the
session's running platform. Log in, see every DAG and no import error, trigger `training_data_export` from its
trigger form with an `export_date`, watch the run reach success, and keep a screenshot of the grid view
(`<LOCAL_STATE_DIR>/platform/artifacts/training_data_export_grid.png`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devstack.airflow_local import PlatformConfig
from devstack.airflow_local.rest_api import FINISHED, AirflowApi
from devstack.airflow_local.settings import ADMIN_USER
from devstack.connections import StackConnections

pytestmark = pytest.mark.stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXPORT = "training_data_export"
EXPORT_DATE = "2031-03-03"
"""A snapshot date no other test exports; its objects are removed afterwards."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is not installed: `make setup` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser: Any, airflow_platform: PlatformConfig) -> Iterator[Any]:
    """A page logged in through the login form, as the local admin."""
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{airflow_platform.url}/")
    page.wait_for_url("**/auth/login**")  # nothing is shown before logging in
    page.get_by_label("Username").fill(ADMIN_USER)
    page.get_by_label("Password").fill(airflow_platform.admin_password())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{airflow_platform.url}/")
    yield page
    context.close()


def test_every_dag_is_listed_and_no_import_error_is_shown(page: Any, airflow_platform: PlatformConfig,
                                                          api: AirflowApi) -> None:
    page.get_by_text("Dag Runs").first.wait_for()  # the home page's run statistics have loaded
    assert "Dag Import Error" not in page.locator("body").inner_text()
    page.goto(f"{airflow_platform.url}/dags")
    dag_ids = sorted(api.dags())
    page.get_by_text(f"{len(dag_ids)} Dags", exact=True).wait_for()
    for dag_id in dag_ids:
        assert page.get_by_role("link", name=dag_id, exact=True).is_visible(), dag_id


@pytest.fixture(scope="module")
def export_snapshot_cleanup(stack_connections: StackConnections) -> Iterator[None]:
    yield
    from dataplatform import s3 as s3_ops
    from dataplatform.batch.training_export import snapshot_key
    from dataplatform.config import settings

    s3, bucket = stack_connections.aws_client("s3"), settings().data_lake_bucket
    s3_ops.delete_keys(s3, bucket, s3_ops.list_keys(s3, bucket, snapshot_key(EXPORT_DATE) + "/"))


def test_the_export_triggered_from_its_form_runs_to_success(page: Any, airflow_platform: PlatformConfig,
                                                            api: AirflowApi, stack_connections: StackConnections,
                                                            export_snapshot_cleanup: None) -> None:
    from dataplatform.batch.training_export import snapshot_key
    from dataplatform.config import settings

    # GIVEN the DAG's page
    dag = api.dag(EXPORT)
    known = {r["dag_run_id"] for r in api.runs(EXPORT)}
    page.goto(f"{airflow_platform.url}/dags/{EXPORT}")
    # WHEN its trigger form is filled with an export_date and submitted
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    form.get_by_text("export_date", exact=True).wait_for()
    page.wait_for_load_state("networkidle")  # the form re-initialises once its editor has loaded
    fields = {"element_export_date": EXPORT_DATE}
    paused = dag["is_paused"]
    due = dag["next_dagrun_logical_date"]
    if paused and due and datetime.fromisoformat(due) <= datetime.now(UTC):
        # a fresh platform: the run takes the DAG's due slot, so unpausing starts no catch-up run beside it
        # (AirflowApi.trigger_due explains); the UI's dates are UTC here
        fields["logicalDate"] = datetime.fromisoformat(due).strftime("%Y-%m-%dT%H:%M")
    for name, value in fields.items():
        form.locator(f"input[name='{name}']").fill(value)
    if paused:
        # unpaused after the run exists, not by the form: "Unpause on trigger" unpauses first and triggers second,
        # and a scheduler loop in between starts the slot's catch-up run (Airflow 3.3.1's scheduler then even
        # stops on the duplicate logical date)
        unpause_on_trigger = form.get_by_label(f"Unpause {EXPORT} on trigger")
        form.get_by_text(f"Unpause {EXPORT} on trigger").click()
        assert not unpause_on_trigger.is_checked()
    for name, value in fields.items():
        assert form.locator(f"input[name='{name}']").input_value() == value, name
    page.wait_for_timeout(1500)  # the logical date input hands its value to the form after a 1 s debounce
    form.get_by_role("button", name="Trigger").click()
    form.wait_for(state="hidden")
    run = _new_run(api, known)
    if paused:
        page.get_by_test_id("toggle-pause").click()
        _wait_until(lambda: api.dag(EXPORT)["is_paused"] is False, "the toggle did not unpause the DAG")

    # THEN the run has that conf, is the only new one, and the UI shows it reach success
    assert run["conf"] == {"export_date": EXPORT_DATE}
    assert api.dag(EXPORT)["is_paused"] is False
    run_page = f"{airflow_platform.url}/dags/{EXPORT}/runs/{run['dag_run_id']}"
    page.goto(run_page)
    state = _watch_state(page, run["dag_run_id"], timeout=1200)
    assert state == "Success", api.task_states(EXPORT, run["dag_run_id"])
    assert [r["dag_run_id"] for r in api.runs(EXPORT) if r["dag_run_id"] not in known] == [run["dag_run_id"]]
    deadline = page.get_by_role("heading", name="Deadline", exact=True).locator("..")
    deadline.get_by_text("Met", exact=True).wait_for()  # finished within its 3 h: no SLA-miss alert
    assert deadline.inner_text().split() == ["Deadline", "Met"]
    page.goto(f"{airflow_platform.url}/dags/{EXPORT}")  # the grid: the runs' task states, left of the details
    page.get_by_text("refresh_popular_products").first.wait_for()
    page.wait_for_load_state("networkidle")
    artifacts = airflow_platform.state_dir / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts / f"{EXPORT}_grid.png"), full_page=True)
    # and the export really wrote that date's snapshot
    s3 = stack_connections.aws_client("s3")
    s3.head_object(Bucket=settings().data_lake_bucket, Key=f"{snapshot_key(EXPORT_DATE)}/_SUCCESS")


def _new_run(api: AirflowApi, known: set[str], timeout: float = 60.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        new = [r for r in api.runs(EXPORT) if r["dag_run_id"] not in known]
        if new:
            (run,) = new
            return run
        assert time.monotonic() < end, "the form created no run"
        time.sleep(1)


def _wait_until(condition: Any, message: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, message
        time.sleep(1)


def _watch_state(page: Any, run_id: str, timeout: float) -> str:
    """The run's state as its page's header shows it, reloaded until it is final."""
    end = time.monotonic() + timeout
    while True:
        header = page.get_by_role("heading", name=run_id, exact=True).locator("..")
        header.wait_for()
        state = header.inner_text().replace(run_id, "").strip()
        if state.lower() in FINISHED or time.monotonic() > end:
            return state
        time.sleep(10)
        page.reload()
