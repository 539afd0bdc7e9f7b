"""Threads with database connections of their own, for tests of concurrent writers."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections


def postgresql_only(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(connection.vendor != "postgresql", reason=reason)


class Worker(threading.Thread):
    """A thread with its own database connection, closed when it ends."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as error:  # reported by finish() or read by the test
            self.error = error
        finally:
            connections.close_all()  # this thread's connections only

    def finish(self, timeout: float) -> None:
        """Wait for the thread (at most ``timeout`` seconds) and raise its error."""
        self.join(timeout)
        assert not self.is_alive(), f"worker still running after {timeout} s"
        if self.error is not None:
            raise self.error


def start(target: Callable[[], object]) -> Worker:
    worker = Worker(target)
    worker.start()
    return worker


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))
