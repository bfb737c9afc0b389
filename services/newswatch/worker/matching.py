"""Whether a report describes the same real-world event as an open alert (pure: no state, no I/O).

    report = Report.of("coup", title, evidence, countries, event_time)
    verdict = judge(report, profile, AlertPolicy())    # profile: what the alert book keeps of one alert
    if verdict.score is not None: ...                  # joins; verdict.reason says why not otherwise

An event is identified by its place, and for withdrawals and peacekeeping changes also by its actor
(docs/events.md: "Denmark will withdraw from Mali" and "France leaves Mali" are two events; a coup is
identified by the country whose power is seized, so "France condemns the coup in Niger" reports the Niger
coup). The rules (reasoning in docs/worker.md, "Alert matching"):

1. time: the report's event time lies within ``window_hours`` of the alert's event span or, a "late" report,
   within ``entity_window_hours`` and naming the alert's mission or operation (MONUSCO, Task Force Harmattan);
   a late coup report instead needs its own headline to be about the alert's country (docs/events.md: a
   follow-up within about two weeks centred on the coup counts as the coup);
2. place: the report names the alert's headline countries (those every titled source names in its title),
   or its own headline names only countries the alert knows, one of them a headline country; for a coup,
   naming one headline country is enough;
3. actor (withdrawal, peacekeeping change): the country a report's headline is about (its first, after a
   "Mali :" tag) is one the alert already names, and the report names the country the alert's first headline
   is about (for a withdrawal, naming the alert's operation will do: the operation is the actor);
4. similarity: ``0.5 * country + 0.5 * text >= min_match_score``. Both are overlap coefficients
   ``|A & B| / min(|A|, |B|)``: of the country sets (0.5 when either is unknown) and of language-neutral
   terms: countries as ISO codes, the event vocabulary of English and French as shared concepts ("retrait" and
   "withdrawal" meet), other words as folded 5-letter stems. A late withdrawal naming the alert's operation
   meets this usual bar (a named operation's announcement, pull-out and completion are one event); any other
   late report must word the same change: its text score leaves out the country terms and the event type's own
   vocabulary, and the bar is ``entity_min_match_score``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from newswatch.classifier.countries import MISSION_HOSTS, CountryMatcher
from newswatch.contracts import EventType
from newswatch.worker.settings import AlertPolicy

__all__ = [
    "EventProfile",
    "Report",
    "Verdict",
    "entities_of",
    "headline_countries",
    "headline_subject",
    "judge",
    "match_score",
    "terms_of",
]

# Event types whose identity includes who acts (docs/events.md): a withdrawal is an army leaving a place, a
# peacekeeping change is a mission changing or a contributor joining or leaving it. A coup is its country.
_ACTOR_TYPES: frozenset[EventType] = frozenset({"military_withdrawal", "peacekeeping_change"})
# A named operation is the force that withdraws: its announced, under-way and completed withdrawal from one
# place is one event, however differently the stages are worded. A mission is the object of many distinct
# changes (mandate, drawdown, contributors, host-state measures), so a later report must word the same change.
_OPERATION_TYPES: frozenset[EventType] = frozenset({"military_withdrawal"})
# Terms every report of an event type uses say nothing about which event it is: for a late report the text
# score leaves them out, and the @XX country terms too (the country score counts those).
_GENERIC: dict[EventType, frozenset[str]] = {
    "military_withdrawal": frozenset({"~withdraw", "~troops"}),
    "coup": frozenset({"~coup", "~power", "~seize", "~oust", "~junta", "~troops"}),
    "peacekeeping_change": frozenset({"~peacekeeping", "missi", "~troops"}),
}
_MAX_TERMS = 300
_MAX_ENTITIES = 20
_STEM = 5
_TOKEN = re.compile(r"[^\W\d_]{3,}")
_STOP_TEXT = """
    the and for with from that this these those have has had was were are its their his her after about over
    into said says say will would could should been being which who whom what when where while also than they
    them there then out not but all any more most some such only own same other new news report reports
    reported today yesterday monday tuesday wednesday thursday friday saturday sunday week year years month
    les des une dans par pour sur avec qui que quoi est sont son ses leur leurs aux ont été etre être plus
    mais cette ces cet comme selon après apres avant entre vers sous sans dont elle elles ils lui nous vous
    lundi mardi mercredi jeudi vendredi samedi dimanche semaine année annee mois jour hier aujourd
    ici tout toute tous toutes encore ensemble afin ainsi alors aussi bien deja depuis donc lors meme notre
    peu sera seront tres fait avoir etait just still under
"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
# The event vocabulary of docs/events.md in English and French, by folded 5-letter stem: each line is one
# concept, so "retrait", "withdrawal" and "quitté" all become "~withdraw". Words that already share a stem in
# both languages (mission, mandat/mandate, président/president, convoi/convoy) need no line.
_CONCEPT_TEXT = """
    withdraw: withd retra retir quitt leave left leavi pull pulle pulli exit exits depar evacu
    troops: troop troup solda soldi milit armed armee army armie force detac
    last: last derni
    complete: compl achev termi fin
    announce: annou annon decla
    decide: decid decis order ordon
    border: borde front
    coup: coup coups putsc
    power: power pouvo
    seize: seize seizi seizu saisi
    oust: overt ouste ousti toppl renve
    detain: detai arres arret captu
    junta: junta junte
    government: gover gouve
    gunfire: gunfi shoot tirs fusil
    peacekeeping: peace casqu bleus
    extend: exten renew renou prolo
    council: counc conse
    handover: hande hands hando remis remet
    reduce: reduc redui cut cuts
"""
_CONCEPTS: dict[str, str] = {
    stem: f"~{line.split(':')[0].strip()}"
    for line in _CONCEPT_TEXT.strip().splitlines()
    for stem in line.split(":")[1].split()
}
# Mission acronyms are named entities in any case ("Monusco"); French acronyms map to the English one.
_MISSION_ALIASES = {
    "finul": "unifil",
    "onuci": "unoci",
    "minuss": "unmiss",
    "minuk": "unmik",
    "minuad": "unamid",
    "minul": "unmil",
    "manua": "unama",
    "manui": "unami",
}
_MISSIONS = {name.lower(): _MISSION_ALIASES.get(name.lower(), name.lower()) for name in MISSION_HOSTS}
_MISSION_PATTERN = re.compile(r"\b(?:" + "|".join(sorted(_MISSIONS, key=len, reverse=True)) + r")\b", re.I)
# Well-known named military operations (docs/events.md's reference article is about Barkhane); others are
# found by the words that introduce them: "Operation Serval", "Task Force Takuba", "la force (européenne)
# Harmattan".
_KNOWN_OPERATIONS = frozenset({"barkhane", "serval", "takuba", "sangaris", "epervier", "licorne", "sabre"})
_OPERATION_PATTERN = re.compile(
    r"(?i:\b(?:operation|operations|task force|force|forces|groupe))"
    r"(?:\s+(?i:europeenne|europeen|francaise|militaire|multinationale|internationale|conjointe|speciale))?"
    r"\s+([A-Z][a-z]{3,}|[A-Z]{4,})\b"
)
_NOT_NAMES_TEXT = """
    the this that these those with from into will would said says has have was were are and for
    les des une pour dans avec sur par aux est sont ont
    nations unies united union african africaine europe european europeenne french francaise multinational
    multinationale joint conjointe international internationale command commander commandement chief special
    speciale armed army navy air security commission council government national
    january february march april may june july august september october november december
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre
    monday tuesday wednesday thursday friday saturday sunday
    lundi mardi mercredi jeudi vendredi samedi dimanche
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())  # capitalised words after "force" etc. that name no operation
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]{3,}\b")
_TAG = re.compile(r"^([^:]{1,40}?)\s*:\s+(\S.*)$")  # "Mali : fin du retrait..." / "Mali: Denmark to..."


def terms_of(texts: Iterable[str]) -> frozenset[str]:
    """Language-neutral terms: ``@XX`` per country named, ``~concept`` per event word, else 5-letter stems.

    terms_of(["French troops withdraw from Mali"])   # {'@FR', '~troops', '~withdraw', '@ML'}
    terms_of(["Les soldats français ont quitté le Mali"])   # the same set
    """
    matcher = CountryMatcher.default()
    found: set[str] = set()
    for text in texts:
        folded = CountryMatcher.fold(text)
        pieces: list[str] = []
        cursor = 0
        for mention in matcher.mentions(text):
            found.add(f"@{mention.code}")
            pieces.append(folded[cursor : mention.start])
            cursor = mention.end
        pieces.append(folded[cursor:])
        for token in _TOKEN.findall(" ".join(pieces).casefold()):
            if token not in _STOP_WORDS:
                stem = token[:_STEM]
                found.add(_CONCEPTS.get(stem, stem))
    return frozenset(found)


def entities_of(texts: Iterable[str]) -> frozenset[str]:
    """Named missions and operations in ``texts``, lower case (French mission acronyms as the English one).

    entities_of(["Le dernier convoi de la force européenne Harmattan", "MONUSCO hands over a base"])
    # {'harmattan', 'monusco'}
    """
    matcher = CountryMatcher.default()
    found: set[str] = set()
    for text in texts:
        folded = CountryMatcher.fold(text)
        found.update(_MISSIONS[m.group(0).lower()] for m in _MISSION_PATTERN.finditer(folded))
        found.update(w.lower() for w in _CAPITALISED.findall(folded) if w.lower() in _KNOWN_OPERATIONS)
        for match in _OPERATION_PATTERN.finditer(folded):
            name = match.group(1)
            if name.lower() not in _NOT_NAMES and not matcher.extract(name):
                found.add(_MISSIONS.get(name.lower(), name.lower()))
    return frozenset(found)


def _names_of(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(w.lower() for text in texts for w in _CAPITALISED.findall(CountryMatcher.fold(text)))


def _headline(title: str, countries: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
    mentions = [m for m in CountryMatcher.default().mentions(title) if not countries or m.code in countries]
    named = tuple(dict.fromkeys(m.code for m in mentions))
    tagged = _TAG.match(CountryMatcher.fold(title))
    after_tag = [m.code for m in mentions if tagged is not None and m.start >= tagged.start(2)]
    subject = after_tag[0] if after_tag else (named[0] if named else None)
    return named, subject


def headline_countries(title: str, countries: Sequence[str] = ()) -> tuple[str, ...]:
    """Countries named in ``title``, in order; only those in ``countries`` (the article's) when given.

    headline_countries("Paris annonce le retrait de la force Harmattan du Mali")   # ('FR', 'ML')
    """
    return _headline(title, countries)[0]


def headline_subject(title: str, countries: Sequence[str] = ()) -> str | None:
    """The country a headline is about: its first, after a leading "Country :" tag when the rest names one.

    headline_subject("Uruguay to withdraw its peacekeepers from UN mission in Congo")   # 'UY'
    headline_subject("Mali : le Danemark retire ses forces spéciales")                  # 'DK'
    """
    return _headline(title, countries)[1]


@dataclass(frozen=True, slots=True)
class Report:
    """What matching needs of one candidate report."""

    event_type: EventType
    event_time: datetime
    countries: tuple[str, ...]
    headline: tuple[str, ...]
    subject: str | None
    terms: frozenset[str]
    entities: frozenset[str]
    names: frozenset[str]

    @classmethod
    def of(
        cls,
        event_type: EventType,
        title: str,
        evidence: Sequence[str],
        countries: Sequence[str],
        event_time: datetime,
    ) -> Report:
        """Features of one report (its title and evidence sentences, the article's countries).

        Report.of("coup", "Soldiers seize power in Guinea-Bissau", (), ("GW",), published_at)
        """
        texts = tuple(dict.fromkeys((title, *evidence)))  # the evidence often repeats the title
        entities = entities_of(texts)
        headline, subject = _headline(title, countries)
        return cls(
            event_type=event_type,
            event_time=event_time,
            countries=tuple(countries),
            headline=headline,
            subject=subject,
            terms=terms_of(texts),
            entities=entities,
            names=entities | _names_of(texts),
        )


@dataclass(frozen=True, slots=True)
class EventProfile:
    """What matching knows of one open alert; :meth:`absorb` folds a joining report in."""

    countries: tuple[str, ...]
    headline: tuple[str, ...]
    subject: str | None
    terms: frozenset[str]
    entities: frozenset[str]
    start: datetime
    end: datetime

    @classmethod
    def of(cls, report: Report) -> EventProfile:
        """The profile of an alert opened by ``report``."""
        return cls(
            countries=report.countries,
            headline=report.headline,
            subject=report.subject,
            terms=frozenset(sorted(report.terms)[:_MAX_TERMS]),
            entities=frozenset(sorted(report.entities)[:_MAX_ENTITIES]),
            start=report.event_time,
            end=report.event_time,
        )

    def absorb(self, report: Report) -> EventProfile:
        """This profile after ``report`` joined.

        Headline countries narrow to those every headline names (never to none); countries, entities and terms
        grow (the earliest kept first, up to their caps).
        """
        headline = self.headline
        if not headline:
            headline = report.headline
        elif report.headline:
            headline = tuple(c for c in headline if c in report.headline) or headline
        terms = [*sorted(self.terms), *sorted(report.terms - self.terms)][:_MAX_TERMS]
        entities = [*sorted(self.entities), *sorted(report.entities - self.entities)][:_MAX_ENTITIES]
        return EventProfile(
            countries=tuple(dict.fromkeys((*self.countries, *report.countries))),
            headline=headline,
            subject=self.subject or report.subject,
            terms=frozenset(terms),
            entities=frozenset(entities),
            start=min(self.start, report.event_time),
            end=max(self.end, report.event_time),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """``score`` is set when the report joins the alert; ``reason`` names the rule that decided."""

    score: float | None
    reason: Literal["match", "time", "place", "actor", "similarity"]
    late: bool = False


def match_score(
    candidate_countries: Sequence[str],
    candidate_terms: frozenset[str],
    alert_countries: Sequence[str],
    alert_terms: frozenset[str],
) -> float | None:
    """Similarity of a report to an alert in [0, 1]; None when their countries are disjoint.

    match_score(["FR", "ML"], terms_of(["Barkhane leaves Mali"]), ["ML"], terms_of(["Mali: Barkhane out"]))
    """
    mine, theirs = set(candidate_countries), set(alert_countries)
    if mine and theirs:
        shared = mine & theirs
        if not shared:
            return None
        country_score = len(shared) / min(len(mine), len(theirs))
    else:
        country_score = 0.5
    smaller = min(len(candidate_terms), len(alert_terms))
    text_score = len(candidate_terms & alert_terms) / smaller if smaller else 0.0
    return 0.5 * country_score + 0.5 * text_score


def _telling(terms: frozenset[str], event_type: EventType) -> frozenset[str]:
    generic = _GENERIC[event_type]
    return frozenset(t for t in terms if not t.startswith("@") and t not in generic)


def _gap(time: datetime, profile: EventProfile) -> timedelta:
    if time < profile.start:
        return profile.start - time
    return max(time - profile.end, timedelta(0))


def _place_agrees(report: Report, profile: EventProfile) -> bool:
    if not report.countries or not profile.countries:
        return True  # one side names no country: the similarity decides
    mine, core = set(report.countries), set(profile.headline or profile.countries)
    if report.event_type not in _ACTOR_TYPES or not profile.headline:
        return bool(core & mine)
    if core <= mine:  # the report names every country the alert's headlines agree on
        return True
    # or its own headline names only countries the alert knows, one of them in the alert's headlines (a
    # first headline "...convoy reaches Niger" must not turn away "Paris announces the withdrawal from Mali")
    head = set(report.headline)
    return head <= set(profile.countries) and bool(head & core)


def _coup_country_agrees(report: Report, profile: EventProfile) -> bool:
    # A late coup report must be about the alert's country in its own headline (in its countries when its
    # headline names none): a neighbour's own news days later may name the coup country in passing.
    core = set(profile.headline or profile.countries)
    own = set(report.headline or report.countries)
    return bool(core and own and core & own)


def _actor_agrees(report: Report, profile: EventProfile) -> bool:
    if not report.countries or not profile.countries:
        return True
    new_actor = report.subject is not None and report.subject not in profile.countries
    # a report naming the alert's operation ("Last Barkhane troops leave Mali") names its actor (a mission
    # does not: Uruguay leaving MONUSCO and the Security Council renewing it are two events)
    names_operation = report.event_type in _OPERATION_TYPES and bool(profile.entities & report.names)
    lost_actor = (
        profile.subject is not None and profile.subject not in report.countries and not names_operation
    )
    return not (new_actor or lost_actor)


def judge(report: Report, profile: EventProfile, policy: AlertPolicy) -> Verdict:
    """Apply the matching rules (module docstring) to ``report`` and one open alert's ``profile``.

    judge(Report.of(...), EventProfile.of(first_report), AlertPolicy())   # Verdict(score=0.9, reason='match')
    """
    gap = _gap(report.event_time, profile)
    late = gap > timedelta(hours=policy.window_hours)
    if late and gap > timedelta(hours=policy.entity_window_hours):
        return Verdict(None, "time", late)
    if late and report.event_type == "coup":
        # a coup is its country: a follow-up centred on it within about two weeks is the same coup
        if not _coup_country_agrees(report, profile):
            return Verdict(None, "place", late)
    elif late and not (profile.entities & report.names):
        return Verdict(None, "time", late)
    if not _place_agrees(report, profile):
        return Verdict(None, "place", late)
    if report.event_type in _ACTOR_TYPES and not _actor_agrees(report, profile):
        return Verdict(None, "actor", late)
    # a late coup report was placed by its country above; other late reports must word the same change
    strict = late and report.event_type not in _OPERATION_TYPES and report.event_type != "coup"
    mine, theirs = report.terms, profile.terms
    if strict:
        mine, theirs = _telling(mine, report.event_type), _telling(theirs, report.event_type)
    score = match_score(report.countries, mine, profile.countries, theirs)
    if score is None:
        return Verdict(None, "place", late)
    needed = policy.entity_min_match_score if strict else policy.min_match_score
    if score < needed:
        return Verdict(None, "similarity", late)
    return Verdict(score, "match", late)
