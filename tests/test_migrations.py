"""Migrations are history: each one runs as it was written, whatever the live code or the
other migrations become. They import only Django and the standard library; what they
share with live code is frozen in them, and checked here to agree."""

import ast
import importlib
import sys
from pathlib import Path

import pytest

from oms.api.authentication import key_digest

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = sorted(ROOT.glob("*/migrations/0*.py"))


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            modules.add("<import_module>")
    return modules


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_migration_imports_only_django_and_the_standard_library(path: Path) -> None:
    foreign = {
        module
        for module in imported_modules(path)
        if module.split(".")[0] not in {"django", "__future__", *sys.stdlib_module_names}
    }

    assert not foreign


def test_the_frozen_way_back_to_0002_is_0002s_own_sql() -> None:
    counts_0002 = importlib.import_module("customers.migrations.0002_customer_counts")
    blocks_0003 = importlib.import_module("customers.migrations.0003_customer_count_blocks")

    expected = counts_0002.BACKWARD + "DROP TABLE customers_customerdaycount;" + counts_0002.FORWARD
    assert expected == blocks_0003.BACKWARD


def test_moved_keys_are_stored_as_authentication_looks_them_up() -> None:
    moving = importlib.import_module("tokens.migrations.0002_move_authtoken_keys")

    assert moving.key_digest("a-key") == key_digest("a-key")
