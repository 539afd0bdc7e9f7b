"""Argument types shared by the management commands."""

from argparse import ArgumentTypeError


def positive_int(text: str) -> int:
    """A whole number of at least 1 (argparse ``type=``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value
