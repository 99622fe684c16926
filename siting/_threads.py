"""Private: work in threads that an interruption does not wait for.

Python cannot stop a thread, and a thread inside a solver (HiGHS, the compiled
Dijkstra) does not even see Python's signal handlers: the main thread runs them,
and only between its own steps. So a run stays interruptible when

- the main thread never runs such work itself for long: :func:`call` runs a step in
  a worker thread while the main thread waits in short, interruptible waits;
- the main thread never waits for a worker once interrupted: the pools of
  :func:`pool` cancel their queued work and leave the running work to end on its
  own when their block is left by an interruption (``concurrent.futures``'
  ``with`` block and ``shutdown(wait=True)`` wait for it, which could take a
  whole solver time limit);
- the program ends without waiting for what is left running:
  :func:`end_if_abandoned` (the command-line program, once its output is cleaned).

An interruption is a :class:`BaseException` that is not an :class:`Exception`: the
command-line program's ``Interrupted`` (SIGINT, SIGTERM), ``KeyboardInterrupt``,
``SystemExit``. After an ordinary error the pools wait for their running work, as
``concurrent.futures`` does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Longest wait of the main thread between two looks at its signals (seconds).
WAIT_STEP_S = 0.2

_abandoned: set[threading.Thread] = set()
_lock = threading.Lock()


def _abandon(threads: Iterable[threading.Thread]) -> None:
    """Remember those of ``threads`` still running, left so by an interruption."""
    with _lock:
        _abandoned.update(t for t in threads if t.is_alive())


def abandoned() -> list[threading.Thread]:
    """Threads left running by an interruption (those still alive)."""
    with _lock:
        _abandoned.difference_update([t for t in _abandoned if not t.is_alive()])
        return sorted(_abandoned, key=lambda t: t.name)


@contextlib.contextmanager
def pool(max_workers: int, name: str) -> Iterator[ThreadPoolExecutor]:
    """A thread pool for the block; the block's end waits for its work unless it
    ends by an interruption.

    Parameters
    ----------
    max_workers
        Threads of the pool.
    name
        Prefix of the threads' names.

    Yields
    ------
    concurrent.futures.ThreadPoolExecutor
        The pool. Left normally or by an error: cancels the work not started
        (nothing is left to wait for it) and waits for the running work. Left by
        an interruption: cancels the work not started and returns at once; the
        running work ends on its own (see :func:`abandoned`).
    """
    executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
    try:
        yield executor
    except Exception:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    except BaseException:  # an interruption
        executor.shutdown(wait=False, cancel_futures=True)
        _abandon(set(executor._threads))  # no public list of its threads
        log.debug("interrupted: %s left to end on its own", name)
        raise
    executor.shutdown(wait=True, cancel_futures=True)


def call(fn: Callable[..., T], /, *args: Any, name: str = "step", **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, run so that the main thread stays interruptible.

    On the main thread, ``fn`` runs in a worker thread (named ``siting-<name>``)
    while the main thread waits at most :data:`WAIT_STEP_S` at a time, so its
    signal handlers run at once; an interruption there is raised at once and the
    worker is left to end on its own (see :func:`abandoned`). Off the main thread
    ``fn`` is simply called.

    Returns
    -------
    T
        What ``fn`` returns; what it raises is raised here, with its traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name=f"siting-{name}")
    worker.start()
    try:
        # not worker.join(): CPython 3.11 marks a thread stopped when an exception
        # interrupts a join of it (bpo-45274's fix), though it still runs
        while not done.wait(WAIT_STEP_S):
            pass
    except BaseException:
        _abandon({worker})
        log.debug("interrupted: %s left to end on its own", worker.name)
        raise
    if "error" in box:
        error = box.pop("error")
        try:
            raise error
        finally:
            del error  # no reference cycle through the traceback
    return box["value"]


def end_if_abandoned(code: int) -> None:
    """End the process now with ``code`` if an interruption left threads running.

    For the command-line program once it has cleaned up after an interruption:
    the interpreter would otherwise wait for those threads at exit (a solver to its
    time limit), or, were they daemons, could abort while one is inside HiGHS.
    Logging and the standard streams are flushed first; nothing else runs.
    """
    left = abandoned()
    if not left:
        return
    log.debug("ending the process: %s still running", ", ".join(t.name for t in left))
    for handler in logging.getLogger("siting").handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
