"""The machine a benchmark ran on, the same way in every result file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def _proc(name: str, key: str) -> list[str]:
    try:
        return [ln.split(":", 1)[1].strip() for ln in Path(f"/proc/{name}").read_text().splitlines()
                if ln.startswith(key)]
    except OSError:
        return []


def host_facts() -> dict[str, str]:
    """uname, CPU model with its logical CPUs, and RAM."""
    cpu = (_proc("cpuinfo", "model name") or ["unknown"])[0]
    mem = _proc("meminfo", "MemTotal")
    return {
        "uname -a": subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip(),
        "CPU": f"{cpu} ({os.cpu_count()} logical CPUs)",
        "RAM": f"{int(mem[0].split()[0]) / 2**20:.1f} GiB" if mem else "unknown",
    }
