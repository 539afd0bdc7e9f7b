"""Copy the OMS customers into DuckDB (or any dlt destination) with dlt's REST API source.

    OMS_URL=https://oms.example.com OMS_TOKEN=<key> python oms_pipeline.py

Each run loads what changed since the last one: customers in cursor pages of
``modified_date`` order from the newest ``modified_date`` dlt has seen, and the customers
deleted since, which remove their rows (``hard_delete``). The first run loads everything.
The service holds back rows that could still have company committing behind them, so the
stored ``modified_date`` is a safe place to start from: no lookback is needed.
"""

import os
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source

PAGE = {"cursor": "", "limit": 1000}  # cursor pages: next links continue after the last row
# Both resources load the customers table: the latest record of an id wins, and a deletion
# (``deleted``) removes the row.
CUSTOMERS_COLUMNS = {
    "modified_date": {"dedup_sort": "desc"},
    "deleted": {"data_type": "bool", "hard_delete": True},
}


def as_deletion(item: dict[str, Any]) -> dict[str, Any]:
    """A deletion record as the customers row it removes (``hard_delete``); its
    ``modified_date`` is the deletion's, later than any version of the row."""
    return {"id": item["object_id"], "modified_date": item["deleted_date"], "deleted": True}


def oms_source(base_url: str, token: str) -> Any:
    return rest_api_source(
        {
            "client": {
                "base_url": f"{base_url.rstrip('/')}/api/v1/oms/",
                "auth": {
                    "type": "api_key",
                    "name": "Authorization",
                    "api_key": f"Token {token}",
                    "location": "header",
                },
                "paginator": {"type": "json_link", "next_url_path": "next"},
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {"data_selector": "results"},
            },
            "resources": [
                {
                    "name": "customers",
                    "columns": CUSTOMERS_COLUMNS,
                    "endpoint": {
                        "path": "customers/list-simple/",
                        "params": {
                            **PAGE,
                            "sort": "modified_date",
                            "modified_date__gte": {
                                "type": "incremental",
                                "cursor_path": "modified_date",
                            },
                        },
                    },
                },
                {
                    "name": "deleted_customers",
                    "table_name": "customers",
                    "columns": CUSTOMERS_COLUMNS,
                    "endpoint": {
                        "path": "deleted-items/",
                        "params": {
                            **PAGE,
                            "sort": "deleted_date",
                            "content_type": "customer",
                            # Read after the map below: the deletion's date, as modified_date.
                            "deleted_date__gte": {
                                "type": "incremental",
                                "cursor_path": "modified_date",
                            },
                        },
                    },
                    "processing_steps": [{"map": as_deletion}],
                },
            ],
        }
    )


def run(base_url: str, token: str, pipelines_dir: str | None = None) -> Any:
    pipeline = dlt.pipeline(
        pipeline_name="oms_customers",
        destination=dlt.destinations.duckdb(os.environ.get("OMS_DUCKDB", "oms_customers.duckdb")),
        dataset_name="oms",
        pipelines_dir=pipelines_dir,
    )
    return pipeline.run(oms_source(base_url, token))


if __name__ == "__main__":
    print(run(os.environ["OMS_URL"], os.environ["OMS_TOKEN"], os.environ.get("OMS_DLT_DIR")))
