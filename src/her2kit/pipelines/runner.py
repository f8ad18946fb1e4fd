"""Where analysis work runs: local worker processes, or a running Dask cluster.

One entry point, :func:`open_executor`, used by ``score-slide`` (its tiles) and by the lab
service (its analysis jobs), so both run the same way. It yields a standard
:class:`concurrent.futures.Executor`: a :class:`~concurrent.futures.ProcessPoolExecutor` on
this machine, or the executor of a :class:`distributed.Client` connected to ``scheduler``
(``Client.get_executor``), so the per-tile and per-job functions are plain picklable
functions and nothing here is a queue, a protocol or a cluster of its own.

>>> with open_executor(workers=0) as ex:
...     ex.submit(pow, 2, 10).result()
1024
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from her2kit.errors import Her2kitInputError, ServiceUnavailableError

__all__ = ["ExecutorInfo", "InlineExecutor", "default_workers", "open_executor"]


@dataclass(frozen=True)
class ExecutorInfo:
    """What :func:`open_executor` chose, for the result's record.

    Attributes
    ----------
    kind : {"inline", "processes", "dask"}
        In the calling process, local worker processes, or a Dask cluster.
    workers : int
        Worker processes (local), or the cluster's workers when it was connected.
    scheduler : str or None
        The Dask scheduler address, when one was used.
    """

    kind: str
    workers: int
    scheduler: str | None = None


class InlineExecutor(Executor):
    """Runs each task at once in the calling process (``workers=0``): for tests, debugging
    and profiling, where worker processes would hide a traceback or a profile."""

    def __init__(self) -> None:
        self.info = ExecutorInfo("inline", 0)

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the caller sees it through the future, as elsewhere
            future.set_exception(exc)
        return future


def default_workers() -> int:
    """Worker processes when none is asked for: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def open_executor(*, workers: int | None = None, scheduler: str | None = None,
                  connect_timeout_s: float = 10.0) -> Iterator[Executor]:
    """An executor for analysis tasks, shut down on leaving the ``with`` block.

    Parameters
    ----------
    workers : int, optional
        Local worker processes; 0 runs tasks in the calling process. Default: the
        CPUs available (:func:`default_workers`). Not with ``scheduler``.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (``tcp://HOST:PORT``); tasks
        are sent to its workers.
    connect_timeout_s : float, optional
        Seconds to wait for the scheduler (s).

    Yields
    ------
    concurrent.futures.Executor
        With an ``info`` attribute (:class:`ExecutorInfo`).

    Raises
    ------
    Her2kitInputError
        Both ``workers`` and ``scheduler``, or a negative ``workers``.
    ServiceUnavailableError
        The scheduler cannot be reached within ``connect_timeout_s`` (the CLI exits 3).
    """
    if workers is not None and scheduler is not None:
        raise Her2kitInputError("give --workers or --scheduler, not both", field="--workers")
    if workers is not None and (not isinstance(workers, int) or workers < 0):
        raise Her2kitInputError(f"expected a whole number >= 0, got {workers!r}",
                                field="--workers")
    if scheduler is not None:
        with _dask_executor(scheduler, connect_timeout_s) as ex:
            yield ex
        return
    n = default_workers() if workers is None else workers
    if n == 0:
        yield InlineExecutor()
        return
    # forkserver, not fork: the parent may hold threads (a progress bar, a web server)
    # and forking a threaded process can deadlock a child.
    ctx = multiprocessing.get_context("forkserver")
    with _processes(n, ctx) as ex:
        yield ex


@contextlib.contextmanager
def _processes(n: int, ctx) -> Iterator[Executor]:
    from concurrent.futures import ProcessPoolExecutor

    ex = ProcessPoolExecutor(max_workers=n, mp_context=ctx)
    ex.info = ExecutorInfo("processes", n)  # type: ignore[attr-defined]
    try:
        yield ex
    finally:
        # An interrupted run (Ctrl-C) must not wait for the queued tasks.
        ex.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _dask_executor(scheduler: str, timeout_s: float) -> Iterator[Executor]:
    from distributed import Client

    try:
        client = Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ServiceUnavailableError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout_s:g} s") from exc
    try:
        ex = client.get_executor()
        n = len(client.scheduler_info().get("workers", {}))
        ex.info = ExecutorInfo("dask", n, scheduler)  # type: ignore[attr-defined]
        yield ex
    finally:
        client.close()
