"""What the fuzz tests share: bounded, reproducible runs and a tally of what they sent."""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings

RecordProperty = Callable[[str, object], None]


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings of a fuzz run: the same examples on every run (derandomized,
    no example database), no per-example deadline (a 10,000-character value or a
    workbook takes its time), and no complaint about slow or large examples."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class Tally(Counter[str]):
    """Requests sent, by status code, and how many were 5xx."""

    def add(self, status_code: int) -> None:
        self["requests"] += 1
        self[f"status {status_code}"] += 1
        self["5xx"] += status_code >= 500

    @contextmanager
    def reported(self, name: str, record_property: RecordProperty) -> Iterator[None]:
        """Print the tally (shown by ``pytest -rP``) and record it as test properties
        (JUnit XML), also when the run fails."""
        try:
            yield
        finally:
            summary = ", ".join(f"{key}: {count}" for key, count in sorted(self.items()))
            print(f"{name}: {summary}")
            for key, count in self.items():
                record_property(key, count)

    def assert_no_server_error(self, max_examples: int) -> None:
        assert self["requests"] >= max_examples // 2  # the run did fuzz, not skip
        assert self["5xx"] == 0
