"""Create, idempotently, what the streaming deploy expects to find on the local stack (moto + local PostgreSQL).

In AWS these belong to the infrastructure code: the Lambda execution role and the delivery stream's role (IAM),
the read-only database role and the Secrets Manager secret holding its credentials. `streaming_deploy` only
deploys the functions, their aliases and the delivery stream, and resolves the secret's ARN by name.

- **IAM roles** named by the `role_arn` of every file in `include/streaming/` (moto refuses a function whose role
  does not exist), with the trust policy of the service that assumes them.
- **The serving reader role** (`include/streaming/serving_reader.yaml`): created by the local superuser with
  `vectordb.roles.ensure_reader_role`, table grants synced as the pipelines' role. Its password is generated on
  first use and kept in `<state dir>/serving-reader.json` (git-ignored `.local/`, mode 0600), never in the repo.
- **The secret** `<prefix>/vector-db/serving-reader` in moto's Secrets Manager, in the RDS format (engine, host,
  port, username, password, dbname) that `serving.recommender` reads; updated when the stack's password or port
  changed.

Call `create_lambda_resources(settings(), stack)` after `aws_resources.create_resources` (the buckets) and after
PostgreSQL is up.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from dataplatform.config import Settings
from dataplatform.streaming import specs as streaming_specs
from dataplatform.vectordb import roles
from devstack.connections import StackConnections
from devstack.stack import HOST, PG_DATABASE

TRUSTED_SERVICE = {"lambda_function": "lambda.amazonaws.com", "delivery_stream": "firehose.amazonaws.com"}


def reader_password(state_dir: Path, role: str) -> str:
    """The local password of a database role: generated once, kept under the stack's state folder (mode 0600)."""
    path = state_dir / "serving-reader.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    if role not in known:
        known[role] = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=2))
        path.chmod(0o600)
    return known[role]


def _roles_to_create(specs: streaming_specs.StreamingSpecs) -> dict[str, str]:
    """IAM role name -> the service that assumes it."""
    wanted = {}
    for items in (specs.functions, specs.delivery_streams):
        for spec in items.values():
            wanted[spec.role_arn.rsplit("/", 1)[1]] = TRUSTED_SERVICE[spec.kind]
    return wanted


def create_iam_roles(iam: Any, specs: streaming_specs.StreamingSpecs) -> list[str]:
    made = []
    for name, service in sorted(_roles_to_create(specs).items()):
        try:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            }))
            made.append(f"iam role {name}")
        except iam.exceptions.EntityAlreadyExistsException:
            pass
    return made


def put_secret(secretsmanager: Any, name: str, value: dict[str, Any]) -> bool:
    """Create the secret, or update its value when it differs; True when something was written."""
    text = json.dumps(value, sort_keys=True)
    try:
        secretsmanager.create_secret(Name=name, SecretString=text,
                                     Description="read-only database role of the serving Lambdas (local stack)")
        return True
    except secretsmanager.exceptions.ResourceExistsException:
        current = secretsmanager.get_secret_value(SecretId=name)["SecretString"]
        if current == text:
            return False
        secretsmanager.put_secret_value(SecretId=name, SecretString=text)
        return True


def create_lambda_resources(s: Settings, stack: StackConnections,
                            specs: streaming_specs.StreamingSpecs | None = None) -> list[str]:
    """IAM roles, the serving reader role with least-privilege grants, and its secret; returns what was made."""
    specs = specs or streaming_specs.load(s)
    made = create_iam_roles(stack.moto_client("iam"), specs)
    for spec in specs.database_roles.values():
        password = reader_password(stack.cfg.state_dir, spec.role)
        with stack.vector_db(superuser=True) as admin:
            roles.ensure_reader_role(admin, role=spec.role, password=password, schema=spec.schema_name,
                                     connection_limit=spec.connection_limit)
        with stack.vector_db() as loader:
            roles.sync_reader_grants(loader, role=spec.role, schema=spec.schema_name)
        secret = {"engine": "postgres", "host": HOST, "port": stack.cfg.pg_port, "username": spec.role,
                  "password": password, "dbname": PG_DATABASE}
        if put_secret(stack.moto_client("secretsmanager"), spec.secret_name, secret):
            made.append(f"secret {spec.secret_name}")
    return made
