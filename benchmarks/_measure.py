"""What every measured transfer process reports, shared by nrpfiles' worker and nrp-cmd's.

Standard library only: it runs inside nrp-cmd's own virtual environment too.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any


def status_mib(field: str) -> float:
    """A memory figure of this process from /proc (VmRSS now, VmHWM its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def small_files(job: dict[str, Any]) -> tuple[list[Path], Path]:
    return sorted(Path(job["source"]).iterdir()), Path(job["target"])


def start() -> dict[str, float]:
    """Taken just before the measured transfer: memory baseline, wall and CPU clocks."""
    return {
        "baseline_mib": status_mib("VmRSS"),
        "start": time.perf_counter(),
        "cpu_start": time.process_time(),
    }


def report(measure: dict[str, float]) -> None:
    """Print the one JSON line the benchmark runner reads."""
    result = {
        "seconds": time.perf_counter() - measure["start"],
        "cpu": time.process_time() - measure["cpu_start"],
        "baseline_mib": measure["baseline_mib"],
        "peak_mib": status_mib("VmHWM"),
    }
    for name in ("upload_seconds", "download_seconds"):
        if name in measure:
            result[name] = measure[name]
    print(json.dumps(result))
