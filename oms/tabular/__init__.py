"""Rows as tables: database tuples formatted as the serializer would, and the formats that
write them (CSV, Excel workbooks, PostgreSQL's ``COPY``), spreadsheet-safe."""
