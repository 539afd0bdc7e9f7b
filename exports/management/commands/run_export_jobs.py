import signal
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from exports.running import run_next, tidy

IDLE_SECONDS = 1.0  # between looks at the queue when it is empty
TIDY_EVERY = 60.0  # seconds between removals of expired jobs


class Command(BaseCommand):
    help = (
        "Run export jobs as they are created, until stopped (SIGTERM or Ctrl-C ends it after "
        "the job in hand); remove expired ones. `python -m config.serve` runs one."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="run the pending jobs, then stop")

    def handle(self, *args: Any, once: bool, **options: Any) -> None:
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        tidied = 0.0
        while not stopping:
            if time.monotonic() - tidied > TIDY_EVERY:
                tidy()
                tidied = time.monotonic()
            if run_next():
                continue
            if once:
                return
            time.sleep(IDLE_SECONDS)
