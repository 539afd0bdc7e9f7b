"""The image installs every package the project ships: the Dockerfile copies each package
pyproject.toml includes (a package left out installs, and fails only when first imported),
and the wheel carries the data files the code reads."""

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_dockerfile_copies_every_package_pyproject_includes() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = {
        p.removesuffix("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert copied == included


def test_the_wheel_carries_its_migrations_and_data_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "config/nginx.conf",
        "customers/demo_customers.json",
        *(str(path.relative_to(ROOT)) for path in ROOT.glob("*/migrations/0*.py")),
    }
    assert expected <= names
