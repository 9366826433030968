"""The embedded local stack: MariaDB (the MySQL source), PostgreSQL 16 + pgvector, moto server, and the local
Glue endpoint (`devstack/glue_local.py`: moto's Glue API whose job runs really run, on local Spark).

No Docker: MariaDB comes from Debian's packages, PostgreSQL + pgvector from the `pgserver` wheel, moto from
PyPI. Everything listens on 127.0.0.1, ports come from the environment, state lives under `.local/`.
Passwords are generated on first start and kept in `.local/secrets.json` (git-ignored), never in the repo.
Connections to the running services are opened by `devstack/connections.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PG_OS_USER = "pgserver"  # postgres refuses to run as root


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    mysql_port: int
    pg_port: int
    moto_port: int
    glue_port: int

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls(
            state_dir=Path(os.environ.get("LOCAL_STATE_DIR", REPO / ".local")).resolve(),
            mysql_port=int(os.environ.get("LOCAL_MYSQL_PORT", "3307")),
            pg_port=int(os.environ.get("LOCAL_PG_PORT", "5433")),
            moto_port=int(os.environ.get("LOCAL_MOTO_PORT", "5055")),
            glue_port=int(os.environ.get("LOCAL_GLUE_PORT", "5056")),
        )

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def moto_endpoint(self) -> str:
        return f"http://{HOST}:{self.moto_port}"

    @property
    def glue_endpoint(self) -> str:
        return f"http://{HOST}:{self.glue_port}"

    @property
    def glue_work_dir(self) -> Path:
        """The local Glue endpoint's scripts, outputs and run logs (`<work dir>/logs/<job>/<run id>.log`)."""
        return self.state_dir / "glue"


@dataclass(frozen=True)
class Secrets:
    mysql_admin: str
    mysql_readonly: str
    pg_superuser: str
    pg_app: str


MYSQL_ADMIN_USER = "dp_admin"
MYSQL_READONLY_USER = "airflow_ro"
PG_APP_USER = "dataplatform"
PG_DATABASE = "reco"


def load_secrets(cfg: StackConfig) -> Secrets:
    path = cfg.state_dir / "secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {name: secrets.token_hex(16) for name in Secrets.__dataclass_fields__}
        path.write_text(json.dumps(values, indent=2))
        path.chmod(0o600)
    return Secrets(**json.loads(path.read_text()))


# --- process helpers -------------------------------------------------------------------------------


def _pid_alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _spawn(name: str, argv: list[str], cfg: StackConfig, env: dict[str, str] | None = None) -> None:
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    log = open(cfg.run_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO,
                            env=env)
    (cfg.run_dir / f"{name}.pid").write_text(str(proc.pid))


def _wait(name: str, probe: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            probe()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last = exc
            time.sleep(0.5)
    raise RuntimeError(f"{name} not ready after {timeout:.0f}s: {last}")


def _kill(name: str, cfg: StackConfig) -> None:
    pid_file = cfg.run_dir / f"{name}.pid"
    if _pid_alive(pid_file):
        pid = int(pid_file.read_text())
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            if not _pid_alive(pid_file):
                break
            time.sleep(0.2)
    pid_file.unlink(missing_ok=True)


# --- MariaDB -----------------------------------------------------------------------------------------


def mysql_ready(cfg: StackConfig, sec: Secrets) -> None:
    """A real query as the admin user: a ping would succeed even when access is denied."""
    from devstack.connections import StackConnections

    conn = StackConnections(cfg, sec).source_admin()
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        conn.close()


def _install_mariadb(data: Path) -> None:
    """A new MariaDB data directory. `--no-defaults`, as for the server: the system's `/etc/mysql` options (one pid
    file and socket under /run/mysqld for everyone) made two stacks initialising at once (the test workers) fail
    now and then. A failed attempt leaves nothing behind, and its output is in the error."""
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    done = subprocess.run(["mariadb-install-db", "--no-defaults", "--auth-root-authentication-method=normal",
                           f"--datadir={data}", "--user=root", "--skip-test-db"], capture_output=True, text=True)
    if done.returncode:
        shutil.rmtree(data, ignore_errors=True)
        raise RuntimeError(f"mariadb-install-db failed ({done.returncode}) for {data}:\n{done.stdout[-2000:]}"
                           f"\n{done.stderr[-2000:]}")


def start_mariadb(cfg: StackConfig, sec: Secrets) -> None:
    base = cfg.state_dir / "mariadb"
    data, socket = base / "data", base / "mysqld.sock"
    if not _pid_alive(cfg.run_dir / "mariadb.pid"):
        if not (data / "mysql").exists():
            _install_mariadb(data)
        _spawn("mariadb", [
            "mariadbd", "--no-defaults", "--user=root", f"--datadir={data}", f"--port={cfg.mysql_port}",
            f"--bind-address={HOST}", f"--socket={socket}", f"--pid-file={base / 'mariadbd.pid'}",
            "--skip-name-resolve", "--local-infile=1", "--innodb-buffer-pool-size=512M",
            "--innodb-flush-log-at-trx-commit=2", "--character-set-server=utf8mb4",
        ], cfg)
    import MySQLdb

    def root_conn():
        return MySQLdb.connect(unix_socket=str(socket), user="root", connect_timeout=5)

    _wait("MariaDB socket", lambda: root_conn().close())
    conn = root_conn()
    cur = conn.cursor()
    for user, pw in ((MYSQL_ADMIN_USER, sec.mysql_admin), (MYSQL_READONLY_USER, sec.mysql_readonly)):
        cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{HOST}' IDENTIFIED BY %s", (pw,))
        cur.execute(f"ALTER USER '{user}'@'{HOST}' IDENTIFIED BY %s", (pw,))
    cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{MYSQL_ADMIN_USER}'@'{HOST}' WITH GRANT OPTION")
    cur.execute("CREATE DATABASE IF NOT EXISTS classicmodels CHARACTER SET utf8mb4")
    # The read replica's contract: the pipeline's user can read, nothing else.
    cur.execute(f"GRANT SELECT, SHOW VIEW ON classicmodels.* TO '{MYSQL_READONLY_USER}'@'{HOST}'")
    conn.close()
    _wait("MariaDB", lambda: mysql_ready(cfg, sec))


# --- PostgreSQL + pgvector ------------------------------------------------------------------------------


def pg_bin(name: str) -> str:
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


def _as_pg_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_OS_USER, "--", *argv] if os.geteuid() == 0 else argv


def pg_ready(cfg: StackConfig, sec: Secrets) -> None:
    from devstack.connections import StackConnections

    with StackConnections(cfg, sec).vector_db() as conn:
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        assert version, "pgvector extension missing"


def start_postgres(cfg: StackConfig, sec: Secrets) -> None:
    import psycopg

    from devstack.connections import StackConnections

    stack = StackConnections(cfg, sec)
    base = cfg.state_dir / "postgres"
    data = base / "data"
    if os.geteuid() == 0 and subprocess.run(["id", PG_OS_USER], capture_output=True).returncode:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_OS_USER], check=True)
    if not (data / "PG_VERSION").exists():
        base.mkdir(parents=True, exist_ok=True)
        pwfile = base / "pwfile"
        pwfile.write_text(sec.pg_superuser)
        if os.geteuid() == 0:
            shutil.chown(base, PG_OS_USER)
            shutil.chown(pwfile, PG_OS_USER)
        subprocess.run(_as_pg_user([
            pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--auth-local=trust",
            "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
        ]), check=True, capture_output=True)
        pwfile.unlink()
    if subprocess.run(_as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "status"]), capture_output=True).returncode:
        subprocess.run(_as_pg_user([
            pg_bin("pg_ctl"), "-D", str(data), "-l", str(base / "postgres.log"), "-w", "-t", "60",
            "-o", f"-p {cfg.pg_port} -c listen_addresses={HOST} -k {base} -c max_connections=200",
            "start",
        ]), check=True, capture_output=True)
    _wait("PostgreSQL", lambda: stack.vector_db(superuser=True, dbname="postgres").close())
    with stack.vector_db(superuser=True, dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PG_APP_USER,)).fetchone():
            conn.execute(f"CREATE ROLE {PG_APP_USER} LOGIN")
        conn.execute(f"ALTER ROLE {PG_APP_USER} PASSWORD {psycopg.sql.quote(sec.pg_app)}")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone():
            conn.execute(f"CREATE DATABASE {PG_DATABASE} OWNER {PG_APP_USER}")
    with stack.vector_db(superuser=True, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    _wait("pgvector", lambda: pg_ready(cfg, sec))


# --- moto server -----------------------------------------------------------------------------------------


def moto_ready(cfg: StackConfig) -> None:
    from devstack.connections import StackConnections

    StackConnections(cfg, load_secrets(cfg)).aws_client("s3").list_buckets()


def start_moto(cfg: StackConfig) -> None:
    if not _pid_alive(cfg.run_dir / "moto.pid"):
        moto = Path(sys.executable).parent / "moto_server"
        _spawn("moto", [str(moto), "-H", HOST, "-p", str(cfg.moto_port)], cfg)
    _wait("moto server", lambda: moto_ready(cfg))


# --- the local Glue endpoint (devstack/glue_local.py) ---------------------------------------------------------

GLUE_ENDPOINT_SOURCES = (REPO / "devstack" / "glue_local.py", REPO / "plugins" / "dataplatform" / "s3.py")


def _glue_code_version() -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in GLUE_ENDPOINT_SOURCES)).hexdigest()


def glue_ready(cfg: StackConfig) -> None:
    """A Glue call through the endpoint (forwarded to moto): both are up and talking."""
    from devstack.connections import StackConnections

    StackConnections(cfg, load_secrets(cfg)).aws_client("glue").get_databases()


def start_glue(cfg: StackConfig) -> None:
    """Start the local Glue endpoint after moto; an endpoint left running by older code is restarted."""
    version_file = cfg.run_dir / "glue.code"
    version = _glue_code_version()
    if _pid_alive(cfg.run_dir / "glue.pid") and (
            not version_file.exists() or version_file.read_text() != version):
        _kill("glue", cfg)
    if not _pid_alive(cfg.run_dir / "glue.pid"):
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}{os.pathsep}{REPO}"}
        _spawn("glue", [sys.executable, "-m", "devstack.glue_local", "--host", HOST, "--port", str(cfg.glue_port),
                        "--moto-endpoint", cfg.moto_endpoint, "--work-dir", str(cfg.glue_work_dir)], cfg, env=env)
        version_file.write_text(version)
    _wait("local Glue endpoint", lambda: glue_ready(cfg))


# --- the whole stack -------------------------------------------------------------------------------------


def start(cfg: StackConfig) -> Secrets:
    sec = load_secrets(cfg)
    start_mariadb(cfg, sec)
    start_postgres(cfg, sec)
    start_moto(cfg)
    start_glue(cfg)
    return sec


def stop(cfg: StackConfig) -> None:
    _kill("glue", cfg)
    _kill("moto", cfg)
    _kill("mariadb", cfg)
    data = cfg.state_dir / "postgres" / "data"
    if (data / "PG_VERSION").exists():
        subprocess.run(_as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True)


def status(cfg: StackConfig) -> dict[str, str]:
    sec = load_secrets(cfg)
    checks: dict[str, Callable[[], object]] = {
        "mariadb": lambda: mysql_ready(cfg, sec),
        "postgres+pgvector": lambda: pg_ready(cfg, sec),
        "moto": lambda: moto_ready(cfg),
        "glue (local endpoint)": lambda: glue_ready(cfg),
    }
    result = {}
    for name, probe in checks.items():
        try:
            probe()
            result[name] = "ready"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            result[name] = f"DOWN ({exc})"
    return result
