"""The Dask cluster an evaluation runs on: an embedded LocalCluster (worker processes, one thread
each, no dashboard, no log lines) by default, or a running scheduler's address.

Why Dask (distributed): the same client code drives the cluster it starts on this machine and a real
one of many machines, it reschedules the tasks of a worker that is lost, and it ships a worker plugin
to every worker, also to those that join or restart later.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from typing import Iterator

from ..errors import SdanncError
from .work import quiet

CONNECT_TIMEOUT_S = 10


@contextmanager
def _silenced() -> Iterator[None]:
    """Dask's own log records and warnings (ports in use, workers restarted) are not the user's."""
    loggers = [logging.getLogger(n) for n in ("distributed", "dask", "tornado", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextmanager
def _terminate_closes() -> Iterator[None]:
    """SIGTERM (a job scheduler's, `kill`) leaves as Ctrl-C does: through the `finally` that stops the
    local cluster's worker processes, rather than leaving them to find out alone."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def cluster(workers: int | None, scheduler: str | None) -> Iterator[object]:
    """A connected distributed.Client, closed (with the cluster it started) on leaving."""
    with _silenced(), _terminate_closes():
        from distributed import Client, LocalCluster

        if scheduler is not None:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, ValueError, TypeError) as exc:
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                raise SdanncError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler there ({reason}): "
                                  "give the address `dask scheduler` prints (tcp://HOST:PORT)") from None
            try:
                yield client
            finally:
                client.close()
            return
        local = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True, memory_limit=0,
                             dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                             silence_logs=logging.CRITICAL)
        client = Client(local)
        try:
            client.run(quiet)  # the workers' own warnings, before any task
            yield client
        finally:
            client.close()
            local.close()
