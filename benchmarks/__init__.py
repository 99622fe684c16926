"""Benchmarks of siting: run them all with ``python -m benchmarks.run``."""

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    ``/proc/self/status`` ``VmHWM`` belongs to the process image since its last
    exec; ``ru_maxrss`` would also count the parent's memory at fork time, which
    matters for children of a large benchmark runner.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
