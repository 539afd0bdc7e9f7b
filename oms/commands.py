"""What the management commands share: argument types and progress bars."""

from argparse import ArgumentTypeError
from typing import Protocol

from django.core.management.base import OutputWrapper
from tqdm import tqdm


def positive_int(text: str) -> int:
    """A whole number of at least 1 (argparse ``type=``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


class Progress(Protocol):
    """What bulk loaders report to; a ``tqdm`` bar is one."""

    def reset(self, total: float | None = None) -> None: ...

    def update(self, n: float = 1) -> bool | None: ...


class _BarStream:
    """A command's stderr as tqdm needs it: OutputWrapper.write() would append a newline
    to every redraw and colour it as an error."""

    def __init__(self, out: OutputWrapper) -> None:
        self._out = out

    def write(self, text: str) -> None:
        self._out.write(text, style_func=str, ending="")

    def flush(self) -> None:
        self._out.flush()

    # tqdm sizes the bar to the terminal and picks Unicode blocks through these.
    def fileno(self) -> int:
        return self._out.fileno()

    @property
    def encoding(self) -> str | None:
        return getattr(self._out, "encoding", None)


def progress_bar(out: OutputWrapper | None, *, total: float | None = None, unit: str) -> tqdm:
    """A bar on ``out`` (a command's stderr), silent when ``out`` is None or not a terminal,
    so that logs, pipes and tests get no carriage-return noise."""
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        dynamic_ncols=True,
        file=_BarStream(out) if out is not None else None,
        disable=out is None or not out.isatty(),
    )
