"""Real news items from public git archives, read straight from their git objects.

Each source is a public repository pinned at one commit; an item is addressed by (path, key) inside it, so a
committed label file holds pointers, never the texts, and :func:`rebuild` turns pointers back into texts from
a local clone (a bare mirror is enough: nothing is checked out).

    for item in iter_source("rsstrends", Path("/src/rssTrends")):
        item.title, item.summary, item.outlet, item.published

Sources (all read-only; texts belong to their publishers):

- ``rsstrends``: antoninfaure/rssTrends (MIT), ``data/DD-MM-YYYY/news.json``: French RSS items 2023-2026.
- ``orangesum``: Tixierae/OrangeSum (CC BY-SA 4.0), ``data/docs/parsed/N.json``: Orange Actu, 2011-2020.
- ``news-archive``: wklnd/news-archive (MIT), ``news/YYYY/MM/DD/HH-MM.md``: English top-story headlines.
- ``newsflow``: NotSooShariff/newsflow, ``output/YYYY-MM-DD/*_headlines.json``: BBC / NYT headlines.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["SOURCES", "CorpusError", "RawItem", "Source", "iter_source", "read_blobs"]


class CorpusError(RuntimeError):
    """A source repository is missing, at the wrong commit, or does not hold an item it should."""


@dataclass(frozen=True, slots=True)
class RawItem:
    """One feed-like item (headline + lede) with the pointer that finds it again."""

    id: str
    source: str
    path: str
    key: str
    lang: str
    outlet: str
    published: str | None
    title: str
    summary: str
    url: str | None

    def pointer(self) -> dict[str, str | None]:
        """Everything but the texts: what a committed label file keeps."""
        row = asdict(self)
        del row["title"], row["summary"]
        return row


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    repository: str
    commit: str
    licence: str
    prefix: str
    parse: Callable[[str, bytes], Iterator[RawItem]]


_WS = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]+>")


def _clean(text: object) -> str:
    return _WS.sub(" ", _TAGS.sub(" ", str(text or ""))).strip()


def _item_id(source: str, *parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"{source}:{digest}"


def _outlet_from_url(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


_DDMMYYYY = re.compile(r"data/(\d{2})-(\d{2})-(\d{4})/news\.json$")


def _parse_rsstrends(path: str, blob: bytes) -> Iterator[RawItem]:
    match = _DDMMYYYY.search(path)
    if not match:
        return
    day, month, year = match.groups()
    for row in json.loads(blob):
        link = str(row.get("link") or "")
        title, summary = _clean(row.get("title")), _clean(row.get("summary"))
        if not link or not title:
            continue
        yield RawItem(
            id=_item_id("rsstrends", link),
            source="rsstrends",
            path=path,
            key=str(row.get("news_id")),
            lang="fr",
            outlet=_outlet_from_url(link),
            published=f"{year}-{month}-{day}",
            title=title,
            summary=summary,
            url=link,
        )


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[a-zà-ÿ0-9][.!?])(?=[A-ZÀ-Ý])")


def _lede(article: str, limit: int = 320) -> str:
    """The first sentence(s) of a body, up to ``limit`` characters: what a feed's description holds."""
    out = ""
    for sentence in _SENTENCE_END.split(article):
        if out and len(out) + len(sentence) > limit:
            break
        out = f"{out} {sentence}".strip()
    return out[:limit]


def _parse_orangesum(path: str, blob: bytes) -> Iterator[RawItem]:
    row = json.loads(blob)
    title = _clean(row.get("title"))
    summary = _clean(row.get("heading")) or _lede(_clean(row.get("article")))
    if not title:
        return
    key = path.rsplit("/", 1)[-1].removesuffix(".json")
    yield RawItem(
        id=_item_id("orangesum", key),
        source="orangesum",
        path=path,
        key=key,
        lang="fr",
        outlet="actu.orange.fr",
        published=str(row.get("date") or "") or None,
        title=title,
        summary=summary,
        url=None,
    )


_HEADLINE = re.compile(r"^- (?P<title>.+?) - (?P<outlet>[^-]+?)\s*$")
_ARCHIVE_PATH = re.compile(r"news/(\d{4})/(\d{2})/(\d{2})/\d{2}-\d{2}\.md$")


def _parse_news_archive(path: str, blob: bytes) -> Iterator[RawItem]:
    match = _ARCHIVE_PATH.search(path)
    if not match:
        return
    published = "-".join(match.groups())
    for lineno, line in enumerate(blob.decode("utf-8", "replace").splitlines(), 1):
        hit = _HEADLINE.match(line.strip())
        if not hit:
            continue
        title, outlet = _clean(hit["title"]), _clean(hit["outlet"])
        yield RawItem(
            id=_item_id("news-archive", outlet.lower(), title.lower()),
            source="news-archive",
            path=path,
            key=str(lineno),
            lang="en",
            outlet=outlet,
            published=published,
            title=title,
            summary="",
            url=None,
        )


def _parse_newsflow(path: str, blob: bytes) -> Iterator[RawItem]:
    try:
        rows = json.loads(blob)
    except ValueError:
        return
    for index, row in enumerate(rows if isinstance(rows, list) else []):
        title = _clean(row.get("headline"))
        if len(title) < 20:
            continue
        outlet = _clean(row.get("source")) or "unknown"
        stamp = str(row.get("timestamp") or "")[:10] or None
        link = str(row.get("link") or "") or None
        yield RawItem(
            id=_item_id("newsflow", outlet.lower(), title.lower()),
            source="newsflow",
            path=path,
            key=str(index),
            lang="en",
            outlet=outlet,
            published=stamp,
            title=title,
            summary="",
            url=link,
        )


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            "rsstrends",
            "antoninfaure/rssTrends",
            "af4ff4024616c6f3952af73153ed777422cb6b35",
            "MIT (repository); item texts belong to their publishers",
            "data",
            _parse_rsstrends,
        ),
        Source(
            "orangesum",
            "Tixierae/OrangeSum",
            "e6f8a6e3b71006ad62b450bedbb5e88e2236657b",
            "CC BY-SA 4.0",
            "data/docs/parsed",
            _parse_orangesum,
        ),
        Source(
            "news-archive",
            "wklnd/news-archive",
            "698a4d023612558c049e5e6560638a766e97c26c",
            "MIT (repository); headlines belong to their publishers",
            "news",
            _parse_news_archive,
        ),
        Source(
            "newsflow",
            "NotSooShariff/newsflow",
            "fb6fb41c4663ccb8da0b0329317b3a88de8ce210",
            "MIT (repository); headlines belong to their publishers",
            "output",
            _parse_newsflow,
        ),
    )
}


def _git(repo: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CorpusError(f"git {' '.join(args[:2])} failed in {repo}: {exc}") from exc


def read_blobs(repo: Path, commit: str, paths: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(path, contents)`` at ``commit`` through one ``git cat-file --batch`` process."""
    wanted = list(paths)
    request = "".join(f"{commit}:{path}\n" for path in wanted).encode("utf-8")
    out = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"], input=request, capture_output=True, check=True
    ).stdout
    pos = 0
    for path in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if len(header) < 3 or header[1] == b"missing":
            raise CorpusError(f"{repo} has no {path} at {commit}")
        size = int(header[2])
        yield path, out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1


def iter_source(name: str, repo: Path, paths: Iterable[str] | None = None) -> Iterator[RawItem]:
    """Every item of one source at its pinned commit (or only those in ``paths``)."""
    source = SOURCES[name]
    if paths is None:
        listing = _git(repo, "ls-tree", "-r", "--name-only", source.commit, "--", source.prefix)
        paths = sorted(p for p in listing.decode("utf-8").splitlines() if p)
    for path, blob in read_blobs(repo, source.commit, paths):
        yield from source.parse(path, blob)
