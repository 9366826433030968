"""`python -m devstack <command>`: the local stack's one entry point.

    start    start MariaDB, PostgreSQL+pgvector, moto and the local Glue endpoint; create AWS resources;
             migrate Airflow's DB
    stop     stop them (state under .local/ is kept)
    status   query each service for real
    env      print `export` lines pointing a shell at the stack (`eval "$(python -m devstack env)"`)
    seed     (re)load the source database (--scale sample|production)
    demo     start + seed + run every pipeline DAG with `airflow dags test` + print a summary
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

from devstack import stack
from devstack.connections import StackConnections
from devstack.env import local_env


def _apply_env(cfg: stack.StackConfig) -> dict[str, str]:
    env = local_env(cfg, stack.load_secrets(cfg))
    os.environ.update(env)
    sys.path[:0] = env["PYTHONPATH"].split(":")
    return env


def cmd_start(cfg: stack.StackConfig) -> None:
    stack.start(cfg)
    _apply_env(cfg)
    from dataplatform.config import settings
    from devstack.aws_resources import create_resources

    create_resources(settings(), StackConnections(cfg, stack.load_secrets(cfg)))
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    for name, state in stack.status(cfg).items():
        print(f"{name:<20} {state}")


def cmd_seed(cfg: stack.StackConfig, scale: str) -> dict[str, int]:
    from devstack.seed import seed_source

    counts = seed_source(**StackConnections(cfg, stack.load_secrets(cfg)).source_admin_params(), scale=scale)
    for table, n in counts.items():
        print(f"{table:<15} {n:>10,}")
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "env", "seed", "demo"])
    parser.add_argument("--scale", choices=["sample", "production"], default="sample")
    args = parser.parse_args(argv)
    cfg = stack.StackConfig.from_env()
    if args.command == "start":
        cmd_start(cfg)
    elif args.command == "stop":
        stack.stop(cfg)
    elif args.command == "status":
        states = stack.status(cfg)
        for name, state in states.items():
            print(f"{name:<20} {state}")
        sys.exit(0 if all(s == "ready" for s in states.values()) else 1)
    elif args.command == "env":
        for key, value in local_env(cfg, stack.load_secrets(cfg)).items():
            print(f"export {key}={shlex.quote(value)}")
    elif args.command == "seed":
        _apply_env(cfg)
        cmd_seed(cfg, args.scale)
    elif args.command == "demo":
        from devstack.demo import run_demo

        cmd_start(cfg)
        cmd_seed(cfg, args.scale)
        run_demo(cfg)


if __name__ == "__main__":
    main()
