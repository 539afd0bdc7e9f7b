"""JSON Lines (NDJSON): a list's rows as one JSON object per line, for data pipelines that
read a file line by line (bulk loads, warehouse stages, ``jq``, ``pandas.read_json``).

Each object has the keys and values of the JSON page's ``results`` items; the file is UTF-8,
every line ends with LF, and nothing wraps the lines: no rows is an empty body. Values are
the API's, not a spreadsheet's: no formula neutralisation.
"""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

import orjson
from rest_framework.request import Request
from rest_framework.utils.encoders import JSONEncoder

from oms.tabular.renderers import TabularRenderer
from oms.tabular.rows import RowBatch
from oms.tabular.xlsx import BinaryTarget

# Characters that are valid unescaped in JSON text but that some line readers take for a
# line end (Python's str.splitlines, JavaScript), as orjson writes them, and escaped.
LINE_BREAKS = {
    b"\xc2\x85": b"\\u0085",  # NEL
    b"\xe2\x80\xa8": b"\\u2028",  # LINE SEPARATOR
    b"\xe2\x80\xa9": b"\\u2029",  # PARAGRAPH SEPARATOR
}
ENCODER = JSONEncoder()


def json_line(item: dict[str, Any]) -> bytes:
    """``item`` as compact JSON and a LF, on one line for any reader. Values orjson does not
    take (ints beyond 64 bits, Decimal...) go through DRF's encoder, as on JSON pages."""
    try:
        line = orjson.dumps(item, default=ENCODER.default, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError is one
        text = json.dumps(item, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))
        line = f"{text}\n".encode()
    for raw, escaped in LINE_BREAKS.items():
        if raw in line:
            line = line.replace(raw, escaped)
    return line


class JSONLinesRenderer(TabularRenderer):
    """The rows as JSON Lines, ``chunk_rows`` lines per write: an export streams through in
    constant memory."""

    media_type = "application/x-ndjson"
    format = "jsonl"
    charset = "utf-8"
    extension = "jsonl"
    chunk_rows = 2000

    def write(self, batch: RowBatch, target: BinaryTarget, request: Request | None) -> None:
        header = batch.header
        rows = batch.api_values()
        while chunk := list(islice(rows, self.chunk_rows)):
            target.write(b"".join(json_line(dict(zip(header, row, strict=True))) for row in chunk))
