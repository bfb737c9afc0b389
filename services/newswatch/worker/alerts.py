"""One alert per real-world event: match each positive (a :class:`Candidate`) to an open alert, or open one.

    book = AlertBook(store, AlertPolicy())          # store: the Faust table, or a dict in tests
    decision = book.apply(candidate, now=now)      # writes the new state; decision.alert is what to send
    if decision.alert is not None:
        send(decision.alert)
        book.mark_emitted(decision.alert)          # only after Kafka acknowledged the alert

Pure, no I/O. Candidates are grouped by event type (the key of the candidate topic, so one table partition
owns a group). A candidate joins the open alert of its group that :func:`newswatch.worker.matching.judge`
scores best (time, place, actor and similarity rules; reasoning in docs/worker.md), ties to the earliest
first_seen; no match opens a new alert. State lives in four kinds of keys of one store:
``g|<group>`` (index of open alerts), ``a|<alert_id>`` (full alert + the last version Kafka acknowledged + the
latest ids seen), ``i|<alert_id>|<n>`` (earlier ids seen, sealed in chunks of ``_IDS_PER_CHUNK``) and
``s|<event_type>|<article_id>`` (article already seen). Every ``s|`` key an alert wrote, a counted source or a
duplicate URL, is listed in its ids, so all are removed with the alert; no value grows with the number of
sources (lists in the alert are capped, ``source_count`` counts on). Re-delivered articles are never counted
twice; an alert whose state is ahead of its acknowledged version is re-sent with identical content.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from newswatch.classifier.text import fold
from newswatch.contracts import Alert, AlertEvidence, Candidate, Classification, EventType
from newswatch.contracts.models import UtcDatetime
from newswatch.worker.errors import AlertStateError
from newswatch.worker.matching import EventProfile, Report, judge
from newswatch.worker.settings import AlertPolicy
from newswatch.worker.severity import severity_for

__all__ = [
    "AlertBook",
    "AlertDecision",
    "StateStore",
    "alert_id_for",
    "candidates_from",
    "group_key",
]

log = logging.getLogger(__name__)

_EVIDENCE_PER_SOURCE = 2
_IDS_PER_CHUNK = 500  # article ids per sealed chunk: about 25 KB of JSON at most (ids are <= 48 characters)


class StateStore(Protocol):
    """The part of a Faust table (or a dict) the alert book uses: string keys, JSON text values."""

    def get(self, key: str, /) -> str | None: ...
    def __setitem__(self, key: str, value: str) -> None: ...
    def __delitem__(self, key: str) -> None: ...


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Summary(_Model):
    """What matching needs of one open alert (an :class:`EventProfile`), kept in the group index."""

    alert_id: str
    countries: tuple[str, ...]
    headline: tuple[str, ...] = ()  # these three default: table state written without them still loads
    subject: str | None = None
    entities: tuple[str, ...] = ()
    terms: tuple[str, ...]
    event_start: UtcDatetime
    event_end: UtcDatetime
    first_seen: UtcDatetime
    last_updated: UtcDatetime

    def profile(self) -> EventProfile:
        return EventProfile(
            countries=self.countries,
            headline=self.headline,
            subject=self.subject,
            terms=frozenset(self.terms),
            entities=frozenset(self.entities),
            start=self.event_start,
            end=self.event_end,
        )


class _GroupIndex(_Model):
    alerts: tuple[_Summary, ...] = ()


class _AlertState(_Model):
    alert: Alert
    emitted_version: int = Field(ge=0)
    source_ids: tuple[str, ...]  # the latest ids seen (counted or duplicate URL), at most _IDS_PER_CHUNK
    sealed_chunks: int = Field(default=0, ge=0)  # earlier ids in ``i|<alert_id>|0..sealed_chunks-1``
    event_start: UtcDatetime
    event_end: UtcDatetime


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """What :meth:`AlertBook.apply` decided; ``alert`` is the record to send, if any."""

    outcome: Literal["opened", "updated", "resend", "duplicate", "held"]
    alert: Alert | None
    alert_id: str  # empty when held: no alert was opened


def group_key(event_type: EventType) -> str:
    """The key of the internal candidate topic: one group (and one table partition) per event type."""
    return event_type


def alert_id_for(event_type: EventType, group: str, first_article_id: str) -> str:
    """Deterministic alert id: the same first article always opens the same alert id.

    alert_id_for("coup", "coup", "a1")   # 'al-...' (24 hex digits)
    """
    digest = hashlib.sha256(f"{event_type}|{group}|{first_article_id}".encode()).hexdigest()
    return f"al-{digest[:24]}"


def candidates_from(classification: Classification) -> list[Candidate]:
    """One Candidate per positive label of ``classification`` (evidence falls back to the title).

    The article's fields come from the classification (``Classification.from_article`` copied them):
    a classification without its article's url or fetch time raises ``ValueError``.

    candidates_from(classification)   # [] for an article with no label
    """
    if not classification.labels:
        return []
    if not classification.url or classification.title is None or classification.fetched_at is None:
        raise ValueError(f"classification of {classification.article_id!r} lacks its article's fields")
    title = classification.title
    countries = tuple(dict.fromkeys(classification.countries))
    out: list[Candidate] = []
    for event_type in classification.labels:
        evidence = tuple(s for s in classification.evidence.get(event_type, ()) if s.strip())
        out.append(
            Candidate(
                event_type=event_type,
                probability=classification.scores.get(event_type),
                article_id=classification.article_id,
                url=classification.url,
                title=title,
                outlet=classification.outlet,
                countries=countries,
                evidence=evidence or ((title,) if title.strip() else ()),
                published_at=classification.published_at,
                fetched_at=classification.fetched_at,
                classified_at=classification.classified_at or classification.fetched_at,
                model_version=classification.model_version,
            )
        )
    return out


def _append_unique(items: Sequence[str], new: Iterable[str], limit: int) -> tuple[str, ...]:
    out = list(dict.fromkeys(items))
    for item in new:
        if len(out) >= limit:
            break
        if item not in out:
            out.append(item)
    return tuple(out)


def _freshness(last_updated: datetime, published_at: datetime | None) -> float | None:
    if published_at is None:
        return None
    return max(0.0, (last_updated - published_at).total_seconds() / 60.0)


class AlertBook:
    """Alert state over a :class:`StateStore`; every method is synchronous and does no I/O of its own."""

    def __init__(self, store: StateStore, policy: AlertPolicy) -> None:
        self._store = store
        self._policy = policy

    # -- store access -------------------------------------------------------------------------------------
    def _read_index(self, group: str) -> _GroupIndex:
        raw = self._store.get(f"g|{group}")
        if raw is None:
            return _GroupIndex()
        try:
            return _GroupIndex.model_validate_json(raw)
        except ValidationError as exc:
            raise AlertStateError(f"group index {group!r} unreadable: {exc}") from exc

    def _read_alert(self, alert_id: str) -> _AlertState | None:
        raw = self._store.get(f"a|{alert_id}")
        if raw is None:
            return None
        try:
            return _AlertState.model_validate_json(raw)
        except ValidationError as exc:
            raise AlertStateError(f"alert {alert_id!r} unreadable: {exc}") from exc

    def _write_alert(self, state: _AlertState) -> None:
        self._store[f"a|{state.alert.alert_id}"] = state.model_dump_json()

    def _with_seen(self, state: _AlertState, article_id: str) -> _AlertState:
        """``state`` with ``article_id`` listed as seen; a full list is sealed into a chunk key first."""
        ids = state.source_ids
        chunks = state.sealed_chunks
        if len(ids) >= _IDS_PER_CHUNK:
            self._store[f"i|{state.alert.alert_id}|{chunks}"] = json.dumps(list(ids))
            ids, chunks = (), chunks + 1
        return state.model_copy(update={"source_ids": (*ids, article_id), "sealed_chunks": chunks})

    def _seen_ids(self, state: _AlertState) -> list[str]:
        ids: list[str] = []
        for n in range(state.sealed_chunks):
            raw = self._store.get(f"i|{state.alert.alert_id}|{n}")
            if raw is not None:
                try:
                    ids.extend(str(i) for i in json.loads(raw))
                except (ValueError, TypeError) as exc:
                    raise AlertStateError(
                        f"id chunk {n} of {state.alert.alert_id!r} unreadable: {exc}"
                    ) from exc
        return [*ids, *state.source_ids]

    def _delete(self, key: str) -> None:
        if self._store.get(key) is not None:
            del self._store[key]

    def _seen_key(self, event_type: EventType, article_id: str) -> str:
        return f"s|{event_type}|{article_id}"

    # -- public -------------------------------------------------------------------------------------------
    def get(self, alert_id: str) -> Alert | None:
        """The current version of an alert, or None if it is not (or no longer) open."""
        state = self._read_alert(alert_id)
        return None if state is None else state.alert

    def open_alert_ids(self, event_type: EventType) -> tuple[str, ...]:
        """Ids of the open alerts of one event type (oldest first)."""
        return tuple(s.alert_id for s in self._read_index(group_key(event_type)).alerts)

    def apply(self, candidate: Candidate, *, now: datetime) -> AlertDecision:
        """Count ``candidate`` into the matching open alert or open a new one; return what to send."""
        seen_key = self._seen_key(candidate.event_type, candidate.article_id)
        seen = self._store.get(seen_key)
        if seen is not None:
            return self._replayed(seen)
        group = group_key(candidate.event_type)
        index = self._prune(group, self._read_index(group), now)
        report = Report.of(
            candidate.event_type,
            candidate.title,
            candidate.evidence,
            candidate.countries,
            candidate.event_time,
        )
        best = self._best_match(candidate, report, index)
        if best is None and self._placeless_coup(candidate):
            return AlertDecision("held", None, "")
        if best is None:
            state = self._open(candidate, group)
            outcome: Literal["opened", "updated"] = "opened"
        else:
            previous = self._read_alert(best.alert_id)
            if previous is None:
                raise AlertStateError(f"alert {best.alert_id!r} indexed but missing")
            if candidate.url in previous.alert.links:  # (links are capped: a later repeat counts as new)
                self._write_alert(self._with_seen(previous, candidate.article_id))  # pruned with the alert
                self._store[seen_key] = best.alert_id
                return AlertDecision("duplicate", None, best.alert_id)
            state = self._merge(previous, candidate)
            outcome = "updated"
        profile = EventProfile.of(report) if best is None else best.profile().absorb(report)
        summary = _Summary(
            alert_id=state.alert.alert_id,
            countries=state.alert.countries,
            headline=profile.headline,
            subject=profile.subject,
            entities=tuple(sorted(profile.entities)),
            terms=tuple(sorted(profile.terms)),
            event_start=state.event_start,
            event_end=state.event_end,
            first_seen=state.alert.first_seen,
            last_updated=state.alert.last_updated,
        )
        others = tuple(s for s in index.alerts if s.alert_id != summary.alert_id)
        self._write_alert(state)
        self._store[seen_key] = state.alert.alert_id
        self._store[f"g|{group}"] = _GroupIndex(alerts=(*others, summary)).model_dump_json()
        return AlertDecision(outcome, state.alert, state.alert.alert_id)

    def mark_emitted(self, alert: Alert) -> None:
        """Record that Kafka acknowledged ``alert`` (so a replay of its sources does not re-send it)."""
        state = self._read_alert(alert.alert_id)
        if state is None or state.emitted_version >= alert.version:
            return
        self._write_alert(state.model_copy(update={"emitted_version": alert.version}))

    # -- internals ----------------------------------------------------------------------------------------
    def _placeless_coup(self, candidate: Candidate) -> bool:
        # a coup is identified by its country (docs/events.md): a "coup" naming none ("Gouvernement renversé",
        # "il doit faire des coups") is mostly domestic politics or a figure of speech
        return (
            candidate.event_type == "coup"
            and not candidate.countries
            and (candidate.probability or 0.0) < self._policy.placeless_coup_min_probability
        )

    def _replayed(self, alert_id: str) -> AlertDecision:
        state = self._read_alert(alert_id)
        if state is None or state.emitted_version >= state.alert.version:
            return AlertDecision("duplicate", None, alert_id)
        return AlertDecision("resend", state.alert, alert_id)

    def _prune(self, group: str, index: _GroupIndex, now: datetime) -> _GroupIndex:
        horizon = now - timedelta(hours=self._policy.retention_hours)
        keep = [s for s in index.alerts if s.last_updated >= horizon]
        keep.sort(key=lambda s: s.last_updated)
        overflow = max(0, len(keep) - self._policy.max_open_alerts_per_group + 1)
        keep = keep[overflow:]
        kept_ids = {s.alert_id for s in keep}
        closed = [s for s in index.alerts if s.alert_id not in kept_ids]
        if not closed:
            return index
        for summary in closed:
            state = self._read_alert(summary.alert_id)
            if state is not None:
                for article_id in self._seen_ids(state):
                    self._delete(self._seen_key(state.alert.event_type, article_id))
                for n in range(state.sealed_chunks):
                    self._delete(f"i|{summary.alert_id}|{n}")
                self._delete(f"a|{summary.alert_id}")
        pruned = _GroupIndex(alerts=tuple(s for s in index.alerts if s.alert_id in kept_ids))
        self._store[f"g|{group}"] = pruned.model_dump_json()
        return pruned

    def _best_match(self, candidate: Candidate, report: Report, index: _GroupIndex) -> _Summary | None:
        best: tuple[float, datetime, _Summary] | None = None
        rejected: Counter[str] = Counter()
        for summary in index.alerts:
            verdict = judge(report, summary.profile(), self._policy)
            score = verdict.score
            if score is None:
                rejected[verdict.reason] += 1
                continue
            if best is None or (score, -summary.first_seen.timestamp()) > (best[0], -best[1].timestamp()):
                best = (score, summary.first_seen, summary)
        log.debug(
            "alert_match",
            extra={
                "event_type": candidate.event_type,
                "article_id": candidate.article_id,
                "alert_id": None if best is None else best[2].alert_id,
                "score": None if best is None else round(best[0], 3),
                "rejected": dict(rejected),
            },
        )
        return None if best is None else best[2]

    def _evidence(self, candidate: Candidate) -> list[AlertEvidence]:
        sentences = candidate.evidence[:_EVIDENCE_PER_SOURCE] or (candidate.title or candidate.url,)
        return [
            AlertEvidence(
                sentence=s, article_id=candidate.article_id, url=candidate.url, outlet=candidate.outlet_name
            )
            for s in sentences
        ]

    def _open(self, candidate: Candidate, group: str) -> _AlertState:
        policy = self._policy
        last_updated = max(candidate.classified_at, candidate.fetched_at)
        alert = Alert(
            alert_id=alert_id_for(candidate.event_type, group, candidate.article_id),
            version=1,
            status="new",
            event_type=candidate.event_type,
            probability=candidate.probability,
            severity=severity_for(candidate.probability, outlets=1, policy=policy),
            headline=candidate.title or None,
            evidence=tuple(self._evidence(candidate)[: policy.max_evidence]),
            countries=candidate.countries,
            links=(candidate.url,),
            outlets=(candidate.outlet_name,),
            article_ids=(candidate.article_id,),
            source_count=1,
            first_seen=candidate.fetched_at,
            last_updated=last_updated,
            published_at=candidate.published_at,
            freshness_minutes=_freshness(last_updated, candidate.published_at),
            model_version=candidate.model_version,
        )
        return _AlertState(
            alert=alert,
            emitted_version=0,
            source_ids=(candidate.article_id,),
            event_start=candidate.event_time,
            event_end=candidate.event_time,
        )

    def _merge(self, previous: _AlertState, candidate: Candidate) -> _AlertState:
        policy = self._policy
        old = previous.alert
        known = {fold(e.sentence, lower=True) for e in old.evidence}
        evidence = list(old.evidence)
        for item in self._evidence(candidate):
            if len(evidence) < policy.max_evidence and fold(item.sentence, lower=True) not in known:
                evidence.append(item)
                known.add(fold(item.sentence, lower=True))
        outlets = _append_unique(old.outlets, [candidate.outlet_name], limit=policy.max_outlets)
        probability = max(old.probability, candidate.probability)
        published = [p for p in (old.published_at, candidate.published_at) if p is not None]
        first_seen = min(old.first_seen, candidate.fetched_at)
        last_updated = max(old.last_updated, candidate.classified_at, first_seen)
        published_at = min(published) if published else None
        alert = old.model_copy(
            update={
                "version": old.version + 1,
                "status": "update",
                "probability": probability,
                "severity": severity_for(probability, outlets=len(outlets), policy=policy),
                "evidence": tuple(evidence),
                "countries": _append_unique(old.countries, candidate.countries, limit=250),
                "links": _append_unique(old.links, [candidate.url], limit=policy.max_links),
                "outlets": outlets,
                "article_ids": _append_unique(old.article_ids, [candidate.article_id], policy.max_links),
                "source_count": old.source_count + 1,
                "first_seen": first_seen,
                "last_updated": last_updated,
                "published_at": published_at,
                "freshness_minutes": _freshness(last_updated, published_at),
                "model_version": candidate.model_version,
            }
        )
        merged = previous.model_copy(
            update={
                "alert": Alert.model_validate(alert.model_dump()),
                "event_start": min(previous.event_start, candidate.event_time),
                "event_end": max(previous.event_end, candidate.event_time),
            }
        )
        return self._with_seen(merged, candidate.article_id)
