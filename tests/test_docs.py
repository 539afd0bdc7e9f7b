"""The documentation holds together: the README stays a front door, every relative link and
anchor resolves, and the README leads to every page under docs/."""

from pathlib import Path
from urllib.parse import unquote

from tests.markdown import DOCS, README, ROOT, anchors, links, pages, read

# The page on the lock file and its upgrades is written with the lock file: linked from
# the README before it is there. Once it exists its anchors are checked like any page's.
LINKED_AHEAD = DOCS / "dependencies.md"


def test_the_readme_is_a_front_door() -> None:
    """At most 250 lines, opening with the title and the two set-up commands."""
    lines = README.read_text(encoding="utf-8").splitlines()

    assert len(lines) <= 250
    assert lines[0].startswith("# ")
    assert lines[1:3] == ["", "```sh"]
    assert lines[3].startswith("make run ")
    assert lines[4].startswith("make test ")
    assert lines[5] == "```"
    assert read(README).blocks[0].line == 3  # the first block, which nothing precedes


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = unquote(target).partition("#")
        file = (page.parent / path).resolve() if path else page
        if file == LINKED_AHEAD and not file.exists():
            continue
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            broken.append(f"{target}: no heading with that anchor")
    return broken


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = {
        str(page.relative_to(ROOT)): found for page in pages() if (found := broken_links(page))
    }

    assert broken == {}


def test_the_readme_links_every_page_under_docs() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README)}

    assert set(DOCS.glob("*.md")) - linked == set()
    assert LINKED_AHEAD in linked


def test_anchors_are_githubs_heading_slugs(tmp_path: Path) -> None:
    """Lower case, punctuation other than - and _ dropped, spaces as hyphens, a repeated
    heading numbered; a link to a missing anchor or file is reported."""
    page = tmp_path / "page.md"
    page.write_text(
        "# Health, logs and metrics\n\n## `id__gt` and Django's pool\n\n## Notes\n\n## Notes\n\n"
        "```sh\n# not a heading\n```\n\n"
        "[a](#health-logs-and-metrics) [b](#id__gt-and-djangos-pool) [c](#notes-1) "
        "[d](#not-a-heading) [e](missing.md) `[f](#in-code)`\n",
        encoding="utf-8",
    )

    assert anchors(page) == {
        "health-logs-and-metrics",
        "id__gt-and-djangos-pool",
        "notes",
        "notes-1",
    }
    assert broken_links(page) == [
        "#not-a-heading: no heading with that anchor",
        "missing.md: no such file",
    ]
