"""The local Airflow platform: the four components `astro dev start` and MWAA run, without Docker.

    api-server      the UI and the REST API (`/api/v2`, `/auth/token`) and the Execution API tasks talk to
    scheduler       LocalExecutor: tasks run as its subprocesses; also evaluates Deadline Alerts
    dag-processor   parses `dags/` into the metadata DB
    triggerer       deferred tasks (Glue job runs, S3 sensors) and the Deadline Alert callbacks

The metadata DB is its own database (`airflow`) on the local stack's PostgreSQL; the settings and connections
are the local stack's (`devstack.env.local_env`). State under `<LOCAL_STATE_DIR>/platform/`.

    from devstack.airflow_local import PlatformConfig, components
    cfg = PlatformConfig.from_env()
    components.up(cfg)            # idempotent; waits until every component reports healthy
    components.status(cfg)        # {component: "ready" | "DOWN (...)"}
    components.down(cfg)          # ends the process groups it started, and nothing else
"""

from devstack.airflow_local.settings import PlatformConfig

__all__ = ["PlatformConfig"]
