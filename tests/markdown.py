"""README.md and docs/*.md read as GitHub renders them: fenced blocks (with the marker that
keeps an example from running), headings and their anchors, links."""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

FENCE = re.compile(r"(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)")
MARKER = re.compile(r"<!-- not run: (?P<reason>\S.*?) -->")
HEADING = re.compile(r"(#{1,6}) +(?P<title>.+?)(?: +#+)? *")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)(?: +\"[^\"]*\")?\)")


def pages() -> list[Path]:
    """The README, then every page under docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """A fenced block: its language (the info string's first word) and text, dedented as
    far as its fence is indented (a block inside a list item)."""

    page: Path
    line: int  # of the opening fence, from 1
    language: str
    text: str
    not_run: str | None  # the reason the marker on the line before gives

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass(frozen=True)
class Page:
    blocks: list[Block]
    prose: str  # the text outside fenced blocks, blocks blanked out (line numbers kept)


@cache
def read(page: Path) -> Page:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        opening = FENCE.fullmatch(lines[index])
        if not opening:
            prose.append(lines[index])
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        closing = re.compile(rf" *{fence[0]}{{{len(fence)},}} *")
        end = index + 1
        while end < len(lines) and not closing.fullmatch(lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"{page.relative_to(ROOT)}:{index + 1}: the block is never closed")
        body = [re.sub(rf"^ {{0,{indent}}}", "", line) for line in lines[index + 1 : end]]
        marker = MARKER.fullmatch(lines[index - 1].strip()) if index else None
        blocks.append(
            Block(
                page=page,
                line=index + 1,
                language=(opening["info"].split() or [""])[0],
                text="\n".join(body),
                not_run=marker["reason"] if marker else None,
            )
        )
        prose.extend([""] * (end + 1 - index))
        index = end + 1
    return Page(blocks, "\n".join(prose))


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation other than ``-`` and
    ``_`` dropped, spaces as hyphens."""
    text = CODE_SPAN.sub(lambda span: span[0].strip("`"), title)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link: its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """Every heading's anchor; a repeated one gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for line in read(page).prose.splitlines():
        heading = HEADING.fullmatch(line)
        if not heading:
            continue
        anchor = slug(heading["title"])
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(f"{anchor}-{count}" if count else anchor)
    return frozenset(found)


def links(page: Path) -> list[str]:
    """The targets of the page's inline links, outside code."""
    text = CODE_SPAN.sub("", read(page).prose)
    return [link["target"] for link in LINK.finditer(text)]
