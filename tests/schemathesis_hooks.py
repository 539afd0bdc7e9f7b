"""Rules of the API that OpenAPI 3.0 cannot state, for schemathesis (``schemathesis.toml``
loads this module): requests generated to fit the schema are made to keep them too, so
that refusing one is still a failure.

- A cursor is opaque and signed (``oms.api.keyset``): a client starts with an empty one (or
  ``start``) and then follows the links it is given; one it makes up is a 400.
- ``cursor`` and ``page`` exclude each other: both are a 400.
- Cursor pages follow ``sort=id``, ``-id`` or the stamp ascending (``modified_date``,
  ``deleted_date``): a descending stamp order with a cursor is a 400.
"""

import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.hooks import HookContext

CURSOR_STARTS = ("", "start")


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    """A generated request that fits the schema, made to keep the cursor's rules."""
    query = case.query
    positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if not positive or not query or "cursor" not in query:
        return case
    query = dict(query)
    if query["cursor"] not in CURSOR_STARTS:
        query["cursor"] = ""
    if query.get("page") not in (None, ""):
        del query["page"]
    sort = query.get("sort")
    if isinstance(sort, str) and sort.startswith("-") and sort != "-id":
        del query["sort"]
    case.query = query
    return case
