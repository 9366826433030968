"""`python -m devstack <command>`: the local stack's one entry point.

    start    start MariaDB, PostgreSQL+pgvector, moto and the local Glue endpoint; create AWS resources;
             migrate Airflow's DB (the SQLite one `dag.test()` and `airflow dags test` use)
    stop     stop them, and the platform first if it runs (state under .local/ is kept)
    up       start + the local Airflow platform (api-server on LOCAL_AIRFLOW_PORT, default 8080; scheduler with
             the LocalExecutor, dag-processor, triggerer; metadata DB on the stack's PostgreSQL), wait until
             every component is ready, print the UI address and login
    down     stop the order simulator and the platform's processes, then the stack (= stop)
    status   query each service and each platform component for real (--only stack|platform)
    env      print `export` lines pointing a shell at the stack (`eval "$(python -m devstack env)"`);
             --platform: at the running platform's metadata DB instead (`airflow dags list` etc.)
    seed     (re)load the source database (--scale sample|production, --order-timestamps)
    demo     up + seed (with orders.orderTimestamp) + the order simulator in the background + trigger the pipeline
             and the freshness DAGs through the REST API + print a summary; the platform keeps running
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

from devstack import order_simulator, stack
from devstack.airflow_local import PlatformConfig, components
from devstack.airflow_local.settings import MARKER
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


def cmd_up(cfg: stack.StackConfig, platform: PlatformConfig) -> None:
    from devstack.demo import print_platform

    cmd_start(cfg)
    for name, state in components.up(platform).items():
        print(f"{name:<20} {state}")
    print_platform(platform)


def cmd_status(cfg: stack.StackConfig, platform: PlatformConfig, only: str | None) -> None:
    states = {} if only == "platform" else stack.status(cfg)
    if only != "stack":
        states |= {f"airflow {name}": state for name, state in components.check(platform).items()}
    for name, state in states.items():
        print(f"{name:<24} {state}")
    sys.exit(0 if all(s == "ready" for s in states.values()) else 1)


def cmd_seed(cfg: stack.StackConfig, scale: str, order_timestamps: bool = False) -> dict[str, int]:
    from devstack.seed import seed_source

    counts = seed_source(**StackConnections(cfg, stack.load_secrets(cfg)).source_admin_params(), scale=scale,
                         order_timestamps=order_timestamps)
    for table, n in counts.items():
        print(f"{table:<15} {n:>10,}")
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "up", "down", "status", "env", "seed", "demo"])
    parser.add_argument("--scale", choices=["sample", "production"], default="sample")
    parser.add_argument("--only", choices=["stack", "platform"], default=None, help="status: only these")
    parser.add_argument("--order-timestamps", action="store_true",
                        help="seed: with the announced orders.orderTimestamp column (the sales dashboard needs it)")
    parser.add_argument("--platform", action="store_true", help="env: point the shell at the platform")
    args = parser.parse_args(argv)
    cfg = stack.StackConfig.from_env()
    platform = PlatformConfig.from_env()
    if args.command == "start":
        cmd_start(cfg)
    elif args.command == "up":
        cmd_up(cfg, platform)
    elif args.command in ("down", "stop"):  # the platform needs the stack: stopping the stack stops it first
        if order_simulator.stop_background(cfg):  # it writes to the stack's MariaDB
            print("stopped the order simulator")
        leftovers = components.down(platform)
        if leftovers:
            print(f"ended {len(leftovers)} platform process(es) that had left their group: {leftovers}")
        stack.stop(cfg)
    elif args.command == "status":
        cmd_status(cfg, platform, args.only)
    elif args.command == "env":
        env = platform.environment() if args.platform else local_env(cfg, stack.load_secrets(cfg))
        env.pop(MARKER, None)  # a shell's own processes are not the platform's: `down` must not end them
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
    elif args.command == "seed":
        _apply_env(cfg)
        cmd_seed(cfg, args.scale, args.order_timestamps)
    elif args.command == "demo":
        from devstack import demo

        cmd_start(cfg)
        demo.hold_freshness_dags(platform)  # a running platform's refresh must not read the source being reloaded
        order_simulator.stop_background(cfg)  # nor may orders arrive while it is
        cmd_seed(cfg, args.scale, order_timestamps=True)  # the sales dashboard needs the announced column
        demo.start_sales(cfg)
        components.up(platform)
        demo.run_demo(cfg, platform)


if __name__ == "__main__":
    main()
