"""Test doubles for the worker's unit tests: articles and a keyword classifier."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from newswatch.contracts import EVENT_TYPES, Article, Classification, EventScores, EventType

T0 = datetime(2022, 8, 15, 13, 0, tzinfo=UTC)

_KEYWORDS: dict[EventType, tuple[str, ...]] = {
    "military_withdrawal": ("left", "withdraw", "leave", "pull out", "retire"),
    "coup": ("coup", "putsch", "seized power"),
    "peacekeeping_change": ("minusma", "peacekeeping", "monusco"),
}
_COUNTRIES = {
    "mali": "ML",
    "france": "FR",
    "french": "FR",
    "niger": "NE",
    "denmark": "DK",
    "russia": "RU",
    "ukrain": "UA",
}


class KeywordClassifier:
    """A stand-in for EventClassifier: keyword labels, country names, fails on 'POISON' or on purpose."""

    model_version = "fake-1"

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.fail_all = False

    def classify(self, articles: Sequence[Article]) -> list[Classification]:
        self.calls.append(len(articles))
        if self.fail_all or any("POISON" in a.title for a in articles):
            raise RuntimeError("tokenizer choked")
        return [self._one(a) for a in articles]

    def _one(self, article: Article) -> Classification:
        text = f"{article.title}. {article.summary}".lower()
        labels = tuple(e for e in EVENT_TYPES if any(k in text for k in _KEYWORDS[e]))
        scores = {e: (0.95 if e in labels else 0.02) for e in EVENT_TYPES}
        countries = tuple(dict.fromkeys(code for name, code in _COUNTRIES.items() if name in text))
        return Classification.from_article(
            article,
            scores=EventScores(**scores),
            labels=labels,
            evidence={e: (article.title,) for e in labels},
            countries=countries,
            model_version=self.model_version,
            classified_at=datetime.now(UTC),
        )


def make_article(article_id: str = "a1", title: str = "Barkhane has left Mali", **fields: Any) -> Article:
    data: dict[str, Any] = {
        "id": article_id,
        "url": f"https://news.example/{article_id}",
        "title": title,
        "summary": "",
        "published_at": T0,
        "language": "en",
        "feed_url": "https://news.example/feed",
        "outlet": "Example News",
        "fetched_at": T0 + timedelta(minutes=5),
    }
    data.update(fields)
    return Article.model_validate(data)
