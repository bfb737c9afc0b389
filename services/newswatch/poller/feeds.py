"""The feed list: one YAML file, one entry per feed (url, outlet, language, interval, name, allow_private).

feeds = load_feeds(Path("feeds.yaml"), default_interval_seconds=900)
feeds[0].name, feeds[0].url, feeds[0].interval_seconds
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newswatch.poller.errors import FeedListError

__all__ = ["FeedConfig", "default_feeds_text", "load_feeds", "parse_feeds", "parse_interval"]

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


class FeedConfig(BaseModel):
    """One configured feed; ``name`` is unique in the list and is the ``feed`` metrics label."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME.pattern)
    url: str = Field(min_length=1, max_length=4096)
    outlet: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
    interval_seconds: float = Field(gt=0)
    allow_private: bool = False

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("feed url must be an absolute http(s) URL")
        return value.strip()


def parse_interval(value: object) -> float:
    """Seconds from ``600``, ``"600"``, ``"10m"``, ``"1.5h"`` or ``"1d"``.

    >>> parse_interval("10m")
    600.0
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid interval {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _INTERVAL.match(str(value))
        if not match:
            raise ValueError(f"invalid interval {value!r}; use seconds or a number with s, m, h or d")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"interval must be positive, got {value!r}")
    return seconds


def _slug(*parts: str | None) -> str:
    text = "-".join(part for part in parts if part)
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80] or "feed"


def _entry(raw: Any, index: int, default_interval: float) -> FeedConfig:
    if not isinstance(raw, dict):
        raise FeedListError(f"feed #{index + 1}: expected a mapping, got {type(raw).__name__}")
    data = dict(raw)
    if "interval" in data:
        try:
            data["interval_seconds"] = parse_interval(data.pop("interval"))
        except ValueError as exc:
            raise FeedListError(f"feed #{index + 1}: {exc}") from exc
    data.setdefault("interval_seconds", default_interval)
    if "name" not in data:
        outlet = data.get("outlet")
        host = urlsplit(str(data.get("url", ""))).hostname
        data["name"] = _slug(str(outlet) if outlet else host, data.get("language"))
    try:
        return FeedConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FeedListError(f"feed #{index + 1} ({data.get('url')}): {where}: {first['msg']}") from exc


def parse_feeds(
    text: str, *, default_interval_seconds: float, source: str = "<string>"
) -> tuple[FeedConfig, ...]:
    """Parse a feed list YAML document; raise :class:`FeedListError` with the offending entry.

    >>> text = "feeds: [{url: 'https://a.example/rss', outlet: A}]"
    >>> parse_feeds(text, default_interval_seconds=900)[0].name
    'a'
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FeedListError(f"{source}: not valid YAML: {exc}") from exc
    if isinstance(doc, list):
        doc = {"feeds": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("feeds"), list):
        raise FeedListError(f"{source}: expected a mapping with a 'feeds' list")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise FeedListError(f"{source}: 'defaults' must be a mapping")
    interval = default_interval_seconds
    if "interval" in defaults:
        try:
            interval = parse_interval(defaults["interval"])
        except ValueError as exc:
            raise FeedListError(f"{source}: defaults: {exc}") from exc
    feeds = tuple(_entry(raw, index, interval) for index, raw in enumerate(doc["feeds"]))
    seen: dict[str, str] = {}
    for feed in feeds:
        if feed.name in seen:
            raise FeedListError(
                f"{source}: feed name {feed.name!r} is used twice ({seen[feed.name]} and {feed.url});"
                " give one a distinct 'name'"
            )
        seen[feed.name] = feed.url
    return feeds


def default_feeds_text() -> str:
    """The bundled default feed list (``newswatch/poller/feeds.yaml``)."""
    return resources.files("newswatch.poller").joinpath("feeds.yaml").read_text(encoding="utf-8")


def load_feeds(path: Path | None, *, default_interval_seconds: float) -> tuple[FeedConfig, ...]:
    """Load the feed list at ``path``, or the bundled default list when ``path`` is None.

    >>> len(load_feeds(None, default_interval_seconds=900)) > 10
    True
    """
    if path is None:
        return parse_feeds(
            default_feeds_text(), default_interval_seconds=default_interval_seconds, source="feeds.yaml"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FeedListError(f"cannot read feed list {path}: {exc.strerror or exc}") from exc
    return parse_feeds(text, default_interval_seconds=default_interval_seconds, source=str(path))
