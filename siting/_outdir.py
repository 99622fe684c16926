"""Output folders written whole: a temporary folder renamed into place.

A run writes into ``.NAME.partial-PID-*`` beside the destination and renames it to
the destination only when everything is written; the previous folder is moved
aside and deleted. Folders left by a killed process are cleared by the next run.
Runs into the same folder swap it one at a time, and the folder gets the
permissions of any file the user writes (the umask).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``dest`` only if the block succeeds.

    The temporary folders carry the process id; folders left by a process that
    was killed outright (SIGKILL, power loss) are cleaned up by the next run
    into the same ``dest`` (see :func:`clean_stale`).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(dest)
    pid = os.getpid()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-{pid}-", dir=dest.parent))
    # mkdtemp makes a private folder (0700); the output is read like any file the
    # user writes (a planning server's other users, a web server publishing maps)
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    # runs into the same folder swap it one at a time: the last to finish wins whole
    with _locked(dest.parent):
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-{pid}-", dir=dest.parent))
            dest.replace(old / dest.name)
        Path(tmp).replace(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` itself (flock on its descriptor; no lock file)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _umask() -> int:
    """The process's umask, read without changing it where the system says it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def clean_stale(dest: Path) -> None:
    """Remove temporary folders of ``dest`` left by processes no longer running.

    A partial folder is deleted; a folder holding the previous output (killed
    between the two renames) is put back if ``dest`` is missing.
    """
    for folder in sorted(dest.parent.glob(f".{dest.name}.*-*-*")):
        match = re.fullmatch(rf"\.{re.escape(dest.name)}\.(partial|old)-(\d+)-\w+", folder.name)
        if not match or _alive(int(match.group(2))):
            continue
        previous = folder / dest.name
        if match.group(1) == "old" and previous.is_dir() and not dest.exists():
            previous.replace(dest)
            log.warning("%s: restored the previous output left by an interrupted run", dest)
        else:
            log.warning("%s: removed %s left by an interrupted run", dest, folder.name)
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
