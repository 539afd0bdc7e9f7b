"""The image installs every package the project ships: the Dockerfile copies each package
pyproject.toml includes (a package left out installs, and fails only when first imported),
and the wheel carries the data files the code reads. Installs are reproducible: `make
install`, `make connectors` and the image install pip-compile locks with hashes checked, and
the locks pin every declared requirement inside its range (docs/dependencies.md)."""

import re
import shlex
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from importlib.metadata import distributions
from itertools import pairwise
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
RUNTIME_LOCK = "requirements/base.txt"
DEV_LOCK = "requirements/dev.txt"
CONNECTORS_LOCK = "connectors/requirements.txt"
LOCKS = (RUNTIME_LOCK, DEV_LOCK, CONNECTORS_LOCK)


def test_the_dockerfile_copies_every_package_pyproject_includes() -> None:
    included = {
        p.removesuffix("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = set(re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE, re.MULTILINE))
    assert copied == included


def test_the_wheel_carries_its_migrations_and_data_files(tmp_path: Path) -> None:
    # Built as the image builds it: by the locked setuptools, without build isolation.
    build = ["pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    subprocess.run(
        [sys.executable, "-m", *build, str(ROOT)],
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


@dataclass(frozen=True)
class Pin:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def version(self) -> Version:
        (specifier,) = self.requirement.specifier
        return Version(specifier.version)


def read_lock(lock: str) -> dict[NormalizedName, Pin]:
    """A pip-compile lock's requirements by name; an option line (an index, an editable)
    fails to parse as a requirement."""
    pins = {}
    text = (ROOT / lock).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement, *hashes = re.split(r"\s+--hash=", line.strip())
            parsed = Requirement(requirement)
            pins[canonicalize_name(parsed.name)] = Pin(parsed, tuple(hashes))
    return pins


def declared(lock: str) -> list[Requirement]:
    """The ranges a lock is compiled from. Both service locks hold the build backend: the
    project is installed from them without build isolation."""
    build = PYPROJECT["build-system"]["requires"]
    runtime = PYPROJECT["project"]["dependencies"]
    sources = {
        RUNTIME_LOCK: build + runtime,
        DEV_LOCK: build + runtime + PYPROJECT["project"]["optional-dependencies"]["dev"],
        CONNECTORS_LOCK: [
            line
            for line in (ROOT / "connectors/requirements.in").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ],
    }
    return [Requirement(line) for line in sources[lock]]


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_pins_every_declared_requirement_inside_its_range(lock: str) -> None:
    pins = read_lock(lock)
    outside = {
        str(requirement): str(pins[name].version) if name in pins else "not locked"
        for requirement in declared(lock)
        if (name := canonicalize_name(requirement.name)) not in pins
        or not requirement.specifier.contains(pins[name].version, prereleases=True)
    }
    assert outside == {}


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_is_an_exact_version_with_sha256_hashes(lock: str) -> None:
    loose = [
        str(pin.requirement)
        for pin in read_lock(lock).values()
        if [s.operator for s in pin.requirement.specifier] != ["=="]
        or pin.requirement.extras
        or pin.requirement.marker
        or not pin.hashes
        or not all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes)
    ]
    assert loose == []


def test_the_dev_lock_keeps_the_runtime_locks_versions() -> None:
    """Tests run on the versions the image ships."""
    runtime = {name: pin.version for name, pin in read_lock(RUNTIME_LOCK).items()}
    dev = {name: pin.version for name, pin in read_lock(DEV_LOCK).items() if name in runtime}
    assert dev == runtime


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_is_compiled_for_the_images_python(lock: str) -> None:
    (image_python,) = set(re.findall(r"^FROM python:(\d+\.\d+)", DOCKERFILE, re.MULTILINE))
    header = re.search(r"autogenerated by pip-compile with Python (\S+)", (ROOT / lock).read_text())
    assert header is not None
    assert header.group(1) == image_python


def test_this_environment_holds_the_dev_lock_and_the_project_alone() -> None:
    """`make install` leaves nothing unlocked: no newer version, no stray package."""
    installed = {canonicalize_name(d.metadata["Name"]): Version(d.version) for d in distributions()}
    locked = {name: pin.version for name, pin in read_lock(DEV_LOCK).items()}
    project = canonicalize_name(PYPROJECT["project"]["name"])
    assert installed == locked | {project: Version(PYPROJECT["project"]["version"])}


def pip_installs(script: str) -> list[list[str]]:
    """The arguments of each `pip install` in shell lines, in order."""
    installs = []
    for line in script.replace("\\\n", " ").splitlines():
        for command in re.split(r"&&|\|\||;", line):
            words = shlex.split(command)
            installs += [
                words[i + 2 :]
                for i, word in enumerate(words[:-1])
                if Path(word).name == "pip" and words[i + 1] == "install"
            ]
    return installs


def source(install: list[str]) -> str:
    """Where a `pip install` takes its packages from: a lock with hashes checked, the project
    alone (nothing resolved, built by the installed setuptools), or elsewhere: "unlocked"."""
    pairs = list(pairwise(["", *install]))
    files = [word for previous, word in pairs if previous == "-r"]
    targets = [word for previous, word in pairs if previous != "-r" and not word.startswith("-")]
    if files and not targets and "--require-hashes" in install:
        return " ".join(files)
    if targets == ["."] and not files and {"--no-deps", "--no-build-isolation"} <= set(install):
        return "the project alone"
    return "unlocked: " + shlex.join(install)


def test_the_image_installs_the_runtime_lock_then_the_project_alone() -> None:
    run_lines = "\n".join(
        line for line in DOCKERFILE.replace("\\\n", " ").splitlines() if line.startswith("RUN ")
    )
    installs = [source(install) for install in pip_installs(run_lines)]
    assert installs == [RUNTIME_LOCK, "the project alone"]


def test_make_installs_the_locks_then_the_project_alone(tmp_path: Path) -> None:
    recipes = subprocess.run(
        ["make", "--dry-run", "--always-make", f"VENV={tmp_path}", "install", "connectors"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installs = [source(install) for install in pip_installs(recipes)]
    assert installs == [DEV_LOCK, "the project alone", CONNECTORS_LOCK]


@pytest.mark.parametrize(
    ("install", "expected"),
    [
        (["--require-hashes", "-r", DEV_LOCK], DEV_LOCK),
        (["-r", DEV_LOCK], "unlocked: -r requirements/dev.txt"),
        (["--no-deps", "--no-build-isolation", "-e", "."], "the project alone"),
        (["-e", ".[dev]"], "unlocked: -e '.[dev]'"),
        (["."], "unlocked: ."),
        (["--upgrade", "pip"], "unlocked: --upgrade pip"),
        (["--require-hashes", "-r", DEV_LOCK, "."], f"unlocked: --require-hashes -r {DEV_LOCK} ."),
    ],
)
def test_an_install_outside_the_locks_is_told_apart(install: list[str], expected: str) -> None:
    assert source(install) == expected
