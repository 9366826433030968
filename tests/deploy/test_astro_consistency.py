"""The Astro project (Dockerfile, docker-compose.override.yml, airflow_settings.yaml) describes the same
platform as MWAA (requirements) and the embedded devstack: Airflow 3.3 on Python 3.12, the same connection
ids, the same services on the same host ports. No Docker needed: the files are parsed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dataplatform.config import Settings
from devstack import env as devstack_env
from devstack import stack
from devstack.airflow_local import settings as platform_settings

REPO = Path(__file__).resolve().parents[2]
RUNTIME_IMAGE = re.compile(
    r"^astrocrpublic\.azurecr\.io/runtime:(?P<airflow>\d+\.\d+)-(?P<build>\d+)(?:-python-(?P<python>\d+\.\d+))?$"
)
DUMMY_SECRETS = stack.Secrets(mysql_admin="a", mysql_readonly="b", pg_superuser="c", pg_app="d")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in logical]


def dockerfile_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions(path):
        if instruction == "ENV":
            env.update(pair.split("=", 1) for pair in args.split())
    return env


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements-lock.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.override.yml").read_text())["services"]


@pytest.fixture(scope="module")
def astro_connections() -> dict[str, dict]:
    settings = yaml.safe_load((REPO / "airflow_settings.yaml").read_text())
    return {c["conn_id"]: c for c in settings["airflow"]["connections"]}


@pytest.fixture
def devstack_defaults(monkeypatch: pytest.MonkeyPatch) -> stack.StackConfig:
    """devstack's StackConfig as a shell without LOCAL_* variables gets it (the tests run on other ports)."""
    for name in ("LOCAL_MYSQL_PORT", "LOCAL_PG_PORT", "LOCAL_MOTO_PORT", "LOCAL_GLUE_PORT"):
        monkeypatch.delenv(name, raising=False)
    return stack.StackConfig.from_env()


def host_port(service: dict) -> tuple[str, int, int]:
    """(bind address, host port, container port) of a service's only published port."""
    (mapping,) = service["ports"]
    address, published, target = str(mapping).split(":")
    return address, int(published), int(target)


def test_runtime_image_carries_airflow_3_3_on_python_3_12() -> None:
    (image,) = [args.split()[0] for instruction, args in dockerfile_instructions(REPO / "Dockerfile")
                if instruction == "FROM"]
    match = RUNTIME_IMAGE.match(image)
    assert match, f"not an Astro Runtime 3.x image: {image}"
    assert match["airflow"] == "3.3", "Astro Runtime 3.<minor>-<build> carries Airflow 3.<minor>"
    assert match["python"] == "3.12", "MWAA runs Python 3.12; the default Runtime 3.3 image does not"


def test_lock_pins_mwaas_airflow_and_amazon_provider() -> None:
    pins = lock_pins()
    assert pins["apache-airflow"] == "3.3.1"
    assert pins["apache-airflow-providers-amazon"] == "9.34.0"
    # requirements.txt (what MWAA and the Astro image install) is constrained to the same Airflow
    first = next(ln for ln in (REPO / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#"))
    assert f"constraints-{pins['apache-airflow']}/constraints-3.12.txt" in first


def test_astro_defines_the_connections_devstack_defines(astro_connections: dict[str, dict],
                                                        devstack_defaults: stack.StackConfig) -> None:
    devstack_conns = devstack_env.connections(devstack_defaults, DUMMY_SECRETS)
    assert set(astro_connections) == set(devstack_conns)
    for conn_id, conn in devstack_conns.items():
        astro = astro_connections[conn_id]
        assert astro["conn_type"] == conn["conn_type"], conn_id
        assert astro.get("conn_schema") == conn.get("schema"), conn_id
        assert astro.get("conn_login") == conn.get("login") or conn_id == "aws_default", conn_id
    assert astro_connections["aws_default"]["conn_extra"]["region_name"] == devstack_env.REGION


def test_compose_ports_are_devstacks_defaults(compose: dict, devstack_defaults: stack.StackConfig) -> None:
    assert host_port(compose["mysql"])[1] == devstack_defaults.mysql_port == 3307
    assert host_port(compose["pgvector"])[1] == devstack_defaults.pg_port == 5433
    assert host_port(compose["moto"])[1] == devstack_defaults.moto_port == 5055
    assert host_port(compose["glue"])[1] == devstack_defaults.glue_port == 5056
    for name, service in compose.items():
        assert host_port(service)[0] == "127.0.0.1", f"{name} is published beyond localhost"
        assert service["networks"] == ["airflow"], f"{name} is not on the Astro project's network"


def test_compose_images(compose: dict) -> None:
    assert compose["pgvector"]["image"] == "pgvector/pgvector:pg16"
    mysql_image, _, mysql_tag = compose["mysql"]["image"].partition(":")
    assert mysql_image == "mysql" and mysql_tag.split(".")[0] == "8"
    moto_image, _, moto_tag = compose["moto"]["image"].partition(":")
    assert moto_image == "motoserver/moto" and moto_tag == lock_pins()["moto"]


def test_connections_reach_the_compose_services(astro_connections: dict[str, dict], compose: dict) -> None:
    mysql, pg = astro_connections["mysql_source"], astro_connections["pg_vector"]
    assert (mysql["conn_host"], mysql["conn_port"]) == ("mysql", host_port(compose["mysql"])[2])
    assert mysql["conn_schema"] == compose["mysql"]["environment"]["MYSQL_DATABASE"]
    assert mysql["conn_login"] == compose["mysql"]["environment"]["SOURCE_RO_USER"]
    assert mysql["conn_password"] == compose["mysql"]["environment"]["SOURCE_RO_PASSWORD"]
    assert (pg["conn_host"], pg["conn_port"]) == ("pgvector", host_port(compose["pgvector"])[2])
    assert pg["conn_schema"] == compose["pgvector"]["environment"]["POSTGRES_DB"]
    assert pg["conn_login"] == compose["pgvector"]["environment"]["APP_USER"]
    assert pg["conn_password"] == compose["pgvector"]["environment"]["APP_PASSWORD"]
    moto_url = f"http://moto:{host_port(compose['moto'])[2]}"
    glue_url = f"http://glue:{host_port(compose['glue'])[2]}"
    aws_extra = astro_connections["aws_default"]["conn_extra"]
    assert aws_extra["endpoint_url"] == moto_url
    assert aws_extra["service_config"] == {"glue": {"endpoint_url": glue_url}}
    assert dockerfile_env(REPO / "Dockerfile")["AWS_ENDPOINT_URL"] == moto_url
    assert dockerfile_env(REPO / "Dockerfile")["AWS_ENDPOINT_URL_GLUE"] == glue_url


def test_glue_service_is_the_local_glue_endpoint_on_the_moto_service(compose: dict) -> None:
    glue = compose["glue"]
    assert glue["build"] == "." and glue["depends_on"] == ["moto"]
    argv = glue["entrypoint"]
    assert argv[:3] == ["python", "-m", "devstack.glue_local"]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert int(options["--port"]) == host_port(glue)[2]
    assert options["--moto-endpoint"] == f"http://moto:{host_port(compose['moto'])[2]}"


def test_aws_connection_routes_the_same_services_as_devstack(astro_connections: dict[str, dict],
                                                              devstack_defaults: stack.StackConfig) -> None:
    devstack_extra = devstack_env.connections(devstack_defaults, DUMMY_SECRETS)["aws_default"]["extra"]
    astro_extra = astro_connections["aws_default"]["conn_extra"]
    assert set(astro_extra) == set(devstack_extra)
    assert set(astro_extra["service_config"]) == set(devstack_extra["service_config"]) == {"glue"}


def test_image_environment_is_devstacks_local_environment(devstack_defaults: stack.StackConfig) -> None:
    image_env = dockerfile_env(REPO / "Dockerfile")
    local = devstack_env.local_env(devstack_defaults, DUMMY_SECRETS)
    aws = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    shared = {k: v for k, v in local.items() if k.startswith("DATAPLATFORM_") or k in aws}
    assert {k: image_env.get(k) for k in shared} == shared
    # both route boto3 to moto and Glue to the local Glue endpoint (hosts differ: compose names vs 127.0.0.1)
    endpoints = {k for k in local if k.startswith("AWS_ENDPOINT_URL")}
    assert endpoints == {k for k in image_env if k.startswith("AWS_ENDPOINT_URL")} == {
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE"}


def test_image_runs_the_local_platforms_airflow_configuration() -> None:
    """`make up` and `astro dev start` run the same executor, task slots and DAG folder refresh."""
    image_env = dockerfile_env(REPO / "Dockerfile")
    assert {k: image_env.get(k) for k in platform_settings.AIRFLOW_CONFIG} == platform_settings.AIRFLOW_CONFIG


def test_image_leaves_the_sla_deadlines_at_the_platforms_values(devstack_defaults: stack.StackConfig) -> None:
    """No deadline interval is set in one place and not the other: both run the `Settings` defaults (or the same
    override)."""
    image_env = dockerfile_env(REPO / "Dockerfile")
    local = devstack_env.local_env(devstack_defaults, DUMMY_SECRETS)
    deadlines = [f"DATAPLATFORM_{name.upper()}" for name in Settings.__dataclass_fields__
                 if name.endswith("_deadline_seconds")]
    assert len(deadlines) >= 4
    assert {k: image_env.get(k) for k in deadlines} == {k: local.get(k) for k in deadlines}
    assert {k for k in image_env if k.startswith("DATAPLATFORM_")} == {k for k in local
                                                                       if k.startswith("DATAPLATFORM_")}


def test_local_platform_serves_the_ui_on_astros_port(monkeypatch: pytest.MonkeyPatch, compose: dict) -> None:
    """http://localhost:8080 is the Airflow UI under both (run one of the two at a time), and no data service
    of the compose project takes that port."""
    monkeypatch.delenv("LOCAL_AIRFLOW_PORT", raising=False)
    astro = yaml.safe_load((REPO / ".astro" / "config.yaml").read_text())
    astro_port = int((astro.get("api_server") or astro.get("webserver") or {}).get("port", 8080))
    assert platform_settings.PlatformConfig.from_env().port == astro_port == 8080
    assert all(host_port(service)[1] != astro_port for service in compose.values())


def test_astro_files_stay_out_of_the_image() -> None:
    ignored = {ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()}
    assert {"airflow_settings.yaml", ".env", ".local/", ".venv"} <= ignored
    assert yaml.safe_load((REPO / ".astro" / "config.yaml").read_text())["project"]["name"]
