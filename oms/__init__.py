"""The OMS API toolkit: what every OMS list endpoint shares. It never imports an app.

- ``oms.api``: the DRF side: base views, pagination and cursor pages, filters, OPTIONS
  metadata, OpenAPI schema, negotiation, authentication, permissions, throttling, errors.
- ``oms.tabular``: rows as database tuples and the formats that write them (CSV,
  workbooks, PostgreSQL's ``COPY``), with spreadsheet safety.
- ``oms.db``: the data stores: the model base, bounded transactions, change stamps,
  replica routing, folded search, outages, the Redis cache.
- ``oms.http``: below DRF: middleware, access and security logs, file downloads, WSGI.
"""
