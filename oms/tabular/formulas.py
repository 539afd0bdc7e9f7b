"""Spreadsheet safety: text that a spreadsheet would take for a formula gets a leading
``'``, and the mark comes off again exactly (the importer's way back)."""

from typing import Any

# OWASP's CSV Injection page: a cell starting with one of these can be read as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
TEXT_MARK = "'"  # what spreadsheets take for "this cell is text"


def marked(value: str) -> bool:
    """Whether ``value`` starts with the mark and then a trigger or the mark again: what
    :func:`neutralise_formula` writes, so that a value that starts so by itself has to be
    marked as well for :func:`restore_formula` to give every value back exactly."""
    return value.startswith(TEXT_MARK) and value[1:2] in (*FORMULA_TRIGGERS, TEXT_MARK)


def neutralise_formula(value: Any) -> Any:
    """``value`` for a spreadsheet cell: text starting with a formula trigger gets a
    leading ``'``, as OWASP recommends, so that spreadsheets show it as text instead of
    evaluating it (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``); so does text that
    already starts with ``'`` and a trigger or another ``'``, so that the mark can be
    taken off again exactly (:func:`restore_formula`, which the importer applies).

    Only strings change: numbers (ids, negative ones too), None and dates stay what
    they are. A phone number such as ``+905551234567`` is text and gets the quote.
    """
    if isinstance(value, str) and (value.startswith(FORMULA_TRIGGERS) or marked(value)):
        return TEXT_MARK + value
    return value


def restore_formula(value: str) -> str:
    """The text :func:`neutralise_formula` was given: one leading ``'`` less where it
    put one (``'+90555...`` is ``+90555...``, ``''=x`` is ``'=x``); anything else as it is
    (``'Ali`` stays ``'Ali``)."""
    return value[1:] if marked(value) else value


def sql_neutralise(column: str) -> str:
    """:func:`neutralise_formula` as a PostgreSQL expression of the text column ``column``
    (for ``COPY``, see ``oms.tabular.copy``). ``ascii()`` of the first character is cheaper
    than comparing a substring with each trigger."""
    triggers = ", ".join(str(ord(trigger)) for trigger in FORMULA_TRIGGERS)
    mark = ord(TEXT_MARK)
    quoted_mark = TEXT_MARK.replace("'", "''")
    return (
        f"CASE WHEN ascii({column}) IN ({triggers}) OR ascii({column}) = {mark} "
        f"AND ascii(substr({column}, 2, 1)) IN ({triggers}, {mark}) "
        f"THEN '{quoted_mark}' || {column} ELSE {column} END"
    )
