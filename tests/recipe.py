"""The sync recipe of docs/syncing.md ("The recipe, without cursors"), as a BI tool
implements it."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from django.conf import settings

from tests.conftest import LIST_URL

DELETED_URL = "/api/v1/oms/deleted-items/"
LOOKBACK = timedelta(seconds=settings.SYNC_LOOKBACK)

Row = dict[str, Any]


class Response(Protocol):
    status_code: int
    content: bytes

    def json(self) -> Any: ...


class API(Protocol):
    """What the recipe needs of an HTTP client: DRF's test client, or requests."""

    def get(self, path: str, data: dict[str, Any]) -> Response: ...


def api_datetime(value: datetime) -> str:
    """A datetime as the API writes it and its filters read it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class SyncClient:
    """The recipe: ``copy`` is the tool's table, upserted by id; ``delivered`` every id
    received, in order, repeats included. With ``deletions``, each run also removes the
    customers deleted since the run before (the recipe's last step)."""

    api: API
    lookback: timedelta = LOOKBACK
    limit: int = 1000
    filters: dict[str, str] = field(default_factory=dict)  # narrows every request
    deletions: bool = False
    watermark: datetime | None = None
    deletions_watermark: datetime | None = None
    copy: dict[int, Row] = field(default_factory=dict)
    delivered: list[int] = field(default_factory=list)

    def run(self) -> None:
        """One run: every row by id the first time, then what changed since the watermark;
        then the deletions since the deletions watermark (all kept ones the first time).

        The next watermarks are the newest stamps before this run reads anything, taken
        from the service, not from the tool's clock.
        """
        newest = self.get(LIST_URL, sort="-modified_date", limit=1)
        newest_deletion = (
            self.get(DELETED_URL, sort="-deleted_date", limit=1) if self.deletions else []
        )
        if self.watermark is None:
            self.pull_by_id()
        else:
            self.pull_by_modified_date(since=self.watermark - self.lookback)
        if self.deletions:
            since = self.deletions_watermark and self.deletions_watermark - self.lookback
            self.keyset_by_stamp(DELETED_URL, "deleted_date", since, self.remove)
            if newest_deletion:
                self.deletions_watermark = datetime.fromisoformat(
                    newest_deletion[0]["deleted_date"]
                )
        if newest:  # an empty table leaves the watermark as it was
            self.watermark = datetime.fromisoformat(newest[0]["modified_date"])

    def pull_by_id(self, after: int = 0, **filters: str) -> None:
        """Customers in keyset pages of id order."""
        self.keyset_by_id(LIST_URL, self.receive, after, **filters)

    def pull_by_modified_date(self, since: datetime | None = None) -> None:
        """Customers in keyset pages of (modified_date, id) order from ``since``."""
        self.keyset_by_stamp(LIST_URL, "modified_date", since, self.receive)

    def keyset_by_id(
        self, url: str, receive: Callable[[list[Row]], None], after: int = 0, **filters: str
    ) -> None:
        """Keyset pages in id order (``sort=id&id__gt=<last id>``) until a short page."""
        while True:
            page = self.get(url, sort="id", id__gt=after, **filters)
            receive(page)
            if len(page) < self.limit:
                return
            after = page[-1]["id"]

    def keyset_by_stamp(
        self, url: str, stamp: str, since: datetime | None, receive: Callable[[list[Row]], None]
    ) -> None:
        """Keyset pages in (stamp, id) order from ``since`` (None: from the first row)
        until a short page: after each full page, the rest of its last row's stamp by id,
        then the rows of later stamps."""
        page = self.get(
            url, sort=stamp, **({} if since is None else {f"{stamp}__gte": api_datetime(since)})
        )
        while True:
            receive(page)
            if len(page) < self.limit:
                return
            last = page[-1]
            self.keyset_by_id(url, receive, last["id"], **{stamp: last[stamp]})
            page = self.get(url, sort=stamp, **{f"{stamp}__gt": last[stamp]})

    def get(self, url: str, **params: Any) -> list[Row]:
        response = self.api.get(url, {"limit": self.limit, **self.filters, **params})
        assert response.status_code == 200, response.content
        return response.json()["results"]

    def receive(self, rows: list[Row]) -> None:
        for row in rows:
            self.copy[row["id"]] = row
            self.delivered.append(row["id"])

    def remove(self, deletions: list[Row]) -> None:
        for deletion in deletions:
            self.copy.pop(deletion["object_id"], None)
