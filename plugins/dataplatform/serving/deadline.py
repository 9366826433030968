"""Database calls with a deadline the caller can rely on, even when the server is stopped or the network hangs.

A server-side `statement_timeout` cannot end a call to a PostgreSQL that is stopped (SIGSTOP, a frozen VM, a
black-holed network): nothing answers, and libpq's `connect_timeout` cannot go below 2 seconds. So every
database call runs on a `Worker` thread that owns the connection, and the caller waits for its result at most
the deadline. A call still running at the deadline is abandoned: its worker is retired (it closes its
connection when the call finally returns, then ends; a daemon thread, so it never blocks interpreter exit) and
the next call gets a new worker and a new connection. At most `MAX_ABANDONED` abandoned workers may still be
stuck at once; beyond that, calls fail at once with `Unavailable` until one of them returns.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")
MAX_ABANDONED = 4


class DeadlineExceeded(TimeoutError):
    """The call did not return within its deadline (it may still be running on its abandoned worker)."""


class Unavailable(RuntimeError):
    """Too many earlier calls are still stuck: not even trying."""


_STOP = object()


class Worker:
    """One daemon thread running calls in order, with `state` (e.g. a connection) only it touches."""

    _abandoned = 0
    _abandoned_lock = threading.Lock()

    def __init__(self, name: str, on_retire: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.state: dict[str, Any] = {}
        self._calls: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._on_retire = on_retire
        self._abandoned_here = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._calls.get()
            if item is _STOP:
                break
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(self.state))
            except BaseException as error:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(error)
        if self._on_retire is not None:
            with contextlib.suppress(Exception):  # best effort: closing a connection to a dead server
                self._on_retire(self.state)
        if self._abandoned_here:
            with Worker._abandoned_lock:
                Worker._abandoned -= 1

    def call(self, fn: Callable[[dict[str, Any]], T], timeout: float) -> T:
        """`fn(state)` on the worker; its result, or its exception, or `DeadlineExceeded` after `timeout` seconds
        (the worker is then abandoned: see `abandon`)."""
        future: Future[T] = Future()
        self._calls.put((fn, future))
        try:
            return future.result(timeout=max(timeout, 0.0))
        except FutureTimeout:
            self.abandon()
            raise DeadlineExceeded(f"no answer within {timeout * 1000:.0f} ms") from None

    def abandon(self) -> None:
        """Retire the worker after its current call (which the caller no longer waits for)."""
        if not self._abandoned_here:
            self._abandoned_here = True
            with Worker._abandoned_lock:
                Worker._abandoned += 1
        self._calls.put(_STOP)

    def retire(self) -> None:
        """End the worker after its queued calls (closing what `on_retire` closes)."""
        self._calls.put(_STOP)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @classmethod
    def stuck(cls) -> int:
        """Abandoned workers whose call has not returned yet (process-wide)."""
        with cls._abandoned_lock:
            return cls._abandoned


def check_capacity() -> None:
    """Raise `Unavailable` when `MAX_ABANDONED` abandoned workers are still stuck."""
    if Worker.stuck() >= MAX_ABANDONED:
        raise Unavailable(f"{Worker.stuck()} earlier database calls are still stuck")


def call_with_deadline(fn: Callable[[], T], timeout: float, name: str = "deadline-call") -> T:
    """`fn()` on a fresh daemon thread, waited for at most `timeout` seconds (for rare calls such as reading the
    fallback's copy from S3 on a cold start)."""
    check_capacity()
    worker = Worker(name)
    try:
        return worker.call(lambda _state: fn(), timeout)
    finally:
        worker.retire()
