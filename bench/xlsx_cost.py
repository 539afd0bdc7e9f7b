"""In-process cost of an XLSX page: drf-excel's default renderer against the project's.

    DJANGO_SETTINGS_MODULE=config.settings DEBUG=true \\
        .venv/bin/python bench/xlsx_cost.py [--rows 1000] [--repeat 20] [--json]

No database: the rows are built in memory, shaped like list-simple's (ids, aware UTC
datetimes with microseconds, Turkish names, ``+90`` phone numbers, nulls). Each side gets
what it renders in production:

- drf-excel: ``drf_excel.renderers.XLSXRenderer`` as a textbook project uses it, the page
  as ``CustomerSimpleSerializer(many=True).data`` dicts, the view's serializer for the
  header row and cell types;
- the project: ``oms.tabular.renderers.XLSRenderer`` with the database tuples (a ``RowBatch``),
  what ``oms.api.views.ListAPIView`` hands it.

Prints the median of ``--repeat`` runs (after one warm-up) in ms per 1,000 rows, and the
ratio drf-excel / project (above 1: the project is faster); ``--json`` prints them as one
JSON object (rows, drf_excel_ms_per_1k, project_ms_per_1k, ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.http import HttpResponse  # noqa: E402
from drf_excel.renderers import XLSXRenderer  # noqa: E402
from rest_framework import generics  # noqa: E402

from customers.models import Customer  # noqa: E402
from customers.serializers import CustomerSimpleSerializer  # noqa: E402
from oms.tabular.renderers import XLSRenderer  # noqa: E402
from oms.tabular.rows import RowBatch, RowSerializer  # noqa: E402

# Turkish names: the dotless i is data here.
FIRST_NAMES = ["Çağla", "İpek", "Şükrü", "Ayşe", "Ali", "Ömer", "Gülşen", "Mehmet", "Ece"]
LAST_NAMES = ["Yıldız", "Öztürk", "Acar", "Lee", "Kılıç", "Şahin", "Doğan", "Çelik"]  # noqa: RUF001


def customer_tuples(count: int, seed: int = 1) -> list[tuple[Any, ...]]:
    """``count`` rows as ``values_list`` gives them, in the serializer's field order."""
    generate = random.Random(seed)
    start = datetime(2022, 6, 30, tzinfo=UTC)
    rows = []
    for number in range(1, count + 1):
        first, last = generate.choice(FIRST_NAMES), generate.choice(LAST_NAMES)
        created = start + timedelta(seconds=generate.randrange(10**8), microseconds=number)
        rows.append(
            (
                number,
                created,
                created + timedelta(seconds=generate.randrange(10**6)),
                500_000 + number,
                f"customer{number}@example.com.tr",
                first,
                last,
                f"+90{generate.randrange(5_000_000_000, 6_000_000_000)}"
                if generate.random() < 0.7
                else None,
                f"C{number:09d}" if generate.random() < 0.5 else None,
                generate.randrange(1, 11),
            )
        )
    return rows


class TextbookView(generics.ListAPIView):
    """What drf-excel's renderer reads from its view: the serializer."""

    serializer_class = CustomerSimpleSerializer
    request = None
    format_kwarg = None


def median_ms(render: Callable[[], bytes], repeat: int) -> float:
    render()  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        render()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def renderings(rows: int) -> tuple[Callable[[], bytes], Callable[[], bytes]]:
    """drf-excel's rendering of a page of ``rows`` customers, and the project's."""
    tuples = customer_tuples(rows)
    row_serializer = RowSerializer(CustomerSimpleSerializer())
    customers = [Customer(**dict(zip(row_serializer.columns, row, strict=True))) for row in tuples]
    page = {"results": CustomerSimpleSerializer(customers, many=True).data}
    textbook_context = {"view": TextbookView()}

    def drf_excel() -> bytes:
        return XLSXRenderer().render(page, renderer_context=textbook_context)

    def project() -> bytes:
        context = {"response": HttpResponse()}
        data = {"results": RowBatch(row_serializer, tuples)}
        return XLSRenderer().render(data, renderer_context=context)

    return drf_excel, project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows per page (1000)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per renderer (20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    drf_excel, project = renderings(args.rows)
    drf_excel_ms, project_ms = median_ms(drf_excel, args.repeat), median_ms(project, args.repeat)
    per_1k = 1000 / args.rows
    result = {
        "rows": args.rows,
        "drf_excel_ms_per_1k": round(drf_excel_ms * per_1k, 2),
        "project_ms_per_1k": round(project_ms * per_1k, 2),
        "ratio": round(drf_excel_ms / project_ms, 2),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"XLSX page of {args.rows} rows, median of {args.repeat} runs")
    print(
        f"drf-excel XLSXRenderer: {result['drf_excel_ms_per_1k']:.2f} ms per 1,000 rows"
        f" ({len(drf_excel()):,} bytes)"
    )
    print(
        f"project XLSRenderer:    {result['project_ms_per_1k']:.2f} ms per 1,000 rows"
        f" ({len(project()):,} bytes)"
    )
    print(f"ratio (drf-excel / project): {result['ratio']:.2f}x")


if __name__ == "__main__":
    main()
