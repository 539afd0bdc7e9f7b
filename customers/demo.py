"""Demo customers: the ten of the API documentation's example, then synthetic ones.

Everything here is deterministic, so two databases loaded with the same count hold
the same rows.
"""

import json
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from django.db.models import Max
from django.utils.dateparse import parse_datetime

from channels.models import Channel
from customers.models import Customer
from oms.commands import Progress
from oms.db.changes import keeping_given_stamps
from oms.db.transactions import bounded_transaction, reset_sequences

DOCUMENTED_CUSTOMERS = Path(__file__).with_name("demo_customers.json")
DEMO_CHANNEL_ID = 1
# Synthetic customers get omnitron ids far above the documented ones.
SYNTHETIC_OMNITRON_OFFSET = 1_000_000_000
FIRST_SYNTHETIC_NUMBER = 11  # after the ten documented customers
SYNTHETIC_EPOCH = datetime(2022, 1, 1, tzinfo=UTC)
FIRST_NAMES = ["Ayşe", "Mehmet", "Çağla", "Emre", "Zeynep", "İsmail", "Gökhan", "Elif", "Şule"]
LAST_NAMES = ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Öztürk", "Doğan", "Lee", "Smith"]
# Batches of 2000, 5000 and 20000 loaded equally fast on PostgreSQL, in one transaction or
# one per batch: the time goes into building the rows in Python, not into round trips.
BATCH_SIZE = 5000


def documented_customers() -> list[Customer]:
    """The example customers of the API documentation, with their ids and dates."""
    customers = []
    for row in json.loads(DOCUMENTED_CUSTOMERS.read_text(encoding="utf-8")):
        row["channel_id"] = row.pop("channel")
        row["created_date"] = parse_datetime(row["created_date"])
        row["modified_date"] = parse_datetime(row["modified_date"])
        customers.append(Customer(**row))
    return customers


def synthetic_customer(number: int) -> Customer:
    """Customer number ``number``: the same values every time."""
    first_name = FIRST_NAMES[number % len(FIRST_NAMES)]
    last_name = LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)]
    # A minute apart: two and a half million customers still end before 2027.
    created = SYNTHETIC_EPOCH + timedelta(minutes=number, microseconds=number * 7919 % 10**6)
    return Customer(
        omnitron_id=SYNTHETIC_OMNITRON_OFFSET + number,
        email=f"customer{number}@example.com",
        first_name=first_name,
        last_name=last_name,
        phone_number=None if number % 4 == 0 else f"05{number * 7919 % 10**9:09d}",
        erp_code=f"C{number:09d}" if number % 3 == 0 else None,
        channel_id=DEMO_CHANNEL_ID,
        created_date=created,
        modified_date=created + timedelta(hours=number % 72),
    )


def load_demo_data(customers: int, progress: Progress | None = None) -> int:
    """Add demo rows until there are at least ``customers`` customers; return how many
    were added. Existing rows are never changed or deleted.

    Each synthetic batch commits by itself, so an interrupted load keeps what it added and
    the next run carries on from there (see ``synthetic_start``). The rows keep their
    fixed dates (``keeping_given_stamps``): demo data is history, never synced.
    """
    added = 0
    with bounded_transaction(), keeping_given_stamps():
        Channel.objects.get_or_create(
            id=DEMO_CHANNEL_ID, defaults={"name": "Web", "channel_type": "web"}
        )
        documented = documented_customers()
        existing = set(
            Customer.objects.filter(id__in=[c.id for c in documented]).values_list("id", flat=True)
        )
        documented = [c for c in documented if c.id not in existing]
        Customer.objects.bulk_create(documented)
        added += len(documented)
        reset_sequences(Channel, Customer)
    missing = customers - Customer.objects.count()
    if missing > 0:
        if progress is not None:
            progress.reset(total=missing)
        start = synthetic_start()
        numbers = iter(range(start, start + missing))
        while batch := [synthetic_customer(n) for n in islice(numbers, BATCH_SIZE)]:
            # The service's write transactions are all bounded.
            with bounded_transaction(), keeping_given_stamps():
                Customer.objects.bulk_create(batch)
            added += len(batch)
            if progress is not None:
                progress.update(len(batch))
    return added


def synthetic_start() -> int:
    """The number of the next synthetic customer: one past the highest loaded."""
    highest = Customer.objects.filter(omnitron_id__gt=SYNTHETIC_OMNITRON_OFFSET).aggregate(
        Max("omnitron_id")
    )["omnitron_id__max"]
    return highest - SYNTHETIC_OMNITRON_OFFSET + 1 if highest else FIRST_SYNTHETIC_NUMBER
