"""Where the local platform listens, where its state lives, and the Airflow configuration its components share.

Ports come from the environment, like the stack's: `LOCAL_AIRFLOW_PORT` is the api-server (UI, REST API and
Execution API), 8080 by default as under `astro dev start`; the tests use 8180. Nothing else listens: the
scheduler and the triggerer run with `--skip-serve-logs`, since every component writes its task logs to the same
folder the api-server reads them from.

Secrets are generated on first use into `<state>/platform/` (git-ignored), never in the repo: the metadata DB
role's password, the JWT secret every component must share (tasks get their Execution API token from the
scheduler, the api-server checks it), the api-server's secret key, and the `admin` login of Airflow's
SimpleAuthManager (its passwords file, which it reads as is).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from devstack.env import local_env
from devstack.stack import HOST, StackConfig, load_secrets

METADATA_DB = "airflow"
METADATA_ROLE = "airflow"
ADMIN_USER = "admin"
DEFAULT_PORT = 8080
AIRFLOW_CONFIG = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__PARALLELISM": "4",  # task slots: a laptop's cores are shared (healthcheck's 6 checks: 2 rounds)
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",  # a new DAG file shows up within 30 s, not 5 min
}
"""The platform's Airflow configuration that is neither a secret nor an address: the Astro image sets the same
(Dockerfile; tests/deploy/test_astro_consistency.py)."""

MARKER = "DEVSTACK_AIRFLOW_PLATFORM"
"""Set in every component's environment (inherited by every process it forks, whatever its process group), so
`down` can find a descendant that left its group, and only ours."""


@dataclass(frozen=True)
class PlatformSecrets:
    metadata_db: str
    jwt_secret: str
    api_secret_key: str


@dataclass(frozen=True)
class PlatformConfig:
    stack: StackConfig
    port: int
    settings: tuple[tuple[str, str], ...] = ()
    """Extra environment for the components (e.g. a short deadline for a test), on top of the stack's."""

    @classmethod
    def from_env(cls) -> PlatformConfig:
        return cls(stack=StackConfig.from_env(), port=int(os.environ.get("LOCAL_AIRFLOW_PORT", str(DEFAULT_PORT))))

    @property
    def state_dir(self) -> Path:
        return self.stack.state_dir / "platform"

    @property
    def run_dir(self) -> Path:
        """`<component>.pid`: the process group leader of each component."""
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        """`<component>.log`: each component's own output (task logs are under AIRFLOW_HOME/logs)."""
        return self.state_dir / "logs"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def passwords_file(self) -> Path:
        """SimpleAuthManager's passwords file: `{"admin": "<generated>"}`."""
        return self.state_dir / "passwords.json"

    def admin_password(self) -> str:
        path = self.passwords_file
        if not path.exists():
            _write_private(path, {ADMIN_USER: secrets.token_urlsafe(12)})
        return json.loads(path.read_text())[ADMIN_USER]

    def platform_secrets(self) -> PlatformSecrets:
        path = self.state_dir / "secrets.json"
        if not path.exists():
            _write_private(path, {name: secrets.token_urlsafe(64) for name in PlatformSecrets.__dataclass_fields__})
        return PlatformSecrets(**json.loads(path.read_text()))

    def metadata_db_url(self) -> str:
        password = self.platform_secrets().metadata_db
        return f"postgresql+psycopg2://{METADATA_ROLE}:{password}@{HOST}:{self.stack.pg_port}/{METADATA_DB}"

    def environment(self) -> dict[str, str]:
        """What every component runs with: the local stack's environment (connections, DATAPLATFORM_* settings,
        AWS endpoints) plus the platform's own Airflow configuration. DATAPLATFORM_* values of the calling shell
        (e.g. a deadline interval) pass through."""
        sec = self.platform_secrets()
        self.admin_password()
        passthrough = {k: v for k, v in os.environ.items()
                       if k.startswith(("DATAPLATFORM_", "AIRFLOW__DATAPLATFORM__"))}
        return {
            **local_env(self.stack, load_secrets(self.stack)),
            **passthrough,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_db_url(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
            **AIRFLOW_CONFIG,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__SECRET_KEY": sec.api_secret_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": sec.jwt_secret,
            **dict(self.settings),
            MARKER: str(self.state_dir),
        }

    def fingerprint(self) -> str:
        """Changes when the components' configuration does: `up` then restarts them."""
        env = self.environment()
        return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()


def _write_private(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values, indent=2) + "\n")
