"""Helpers shared by the benchmark scripts: machine description, load, peak memory, child runs.

Each measurement runs in a fresh child process (the script itself with ``--child``), so
that ``ru_maxrss`` is that measurement's own peak.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``"1.21 3.15 3.35"``."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_child(script: str, kind: str, *args, env: dict | None = None) -> dict:
    """Run ``script --child '[kind, *args]'`` in a new process; the dict its last stdout line holds as JSON."""
    cmd = [sys.executable, script, "--child", json.dumps([kind, *args])]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {kind}{args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rss_mib() -> float:
    """Current resident memory of this process, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine() -> list[str]:
    """Lines describing the software, the CPU and the load at the start of a run."""
    import numba
    import torch

    lines = [f"python {platform.python_version()}, torch {torch.__version__}, numba {numba.__version__}, "
             f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, numba threads {numba.config.NUMBA_NUM_THREADS}"]
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
        lines += [line for line in lscpu if line.split(":")[0] in ("Model name", "CPU(s)", "Architecture")]
    except FileNotFoundError:
        pass
    lines.append("load average at start: " + load_average())
    return lines
