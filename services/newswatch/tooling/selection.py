"""How the items of a labelling round were chosen: broad keyword queries plus a random background.

Most items match a broad query in their language (withdrawals, coups, peacekeeping: the positives and their
near misses), some only a military query (the hard negatives), and the rest are drawn at random so that the
ordinary no-event background is there too. Titles are deduplicated after accent folding; rssTrends items from
the replay year (:data:`REPLAY_FROM`) and any link into Le Monde's held-out 2022 archive are never chosen.

    python -m newswatch.tooling.selection --repo rsstrends=/src/rssTrends ... --out round.jsonl
    python -m newswatch.tooling.selection --repo ... --near-misses sel.jsonl --seed 20261206 --out r3.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from newswatch.classifier.text import fold
from newswatch.tooling.corpus import RawItem, iter_source

__all__ = [
    "DEFAULT_QUOTAS",
    "NEAR_MISS_QUERIES",
    "NEAR_MISS_QUOTAS",
    "QUERIES",
    "REPLAY_FROM",
    "Quota",
    "main",
    "matches",
    "select",
    "select_near_misses",
]

# rssTrends items published on or after this day are kept for the replay bench, never labelled for training.
REPLAY_FROM = "2025-09-01"

_EVENT_QUERIES = ("withdrawal", "coup", "peacekeeping")

QUERIES: dict[str, dict[str, re.Pattern[str]]] = {
    "fr": {
        "withdrawal": re.compile(
            r"retrait (des|de ses|du|de l'|militaire)|se retir"
            r"|retir(er|e|ent|era|eront|é|ée|és)\b.{0,40}(troupes|soldats|forces|militaires|contingent)"
            r"|(troupes|soldats|militaires|forces|armee)[^.]{0,60}"
            r"(quitt|partir|depart|retir|se replient|replie)"
            r"|depart des (troupes|soldats|militaires|forces)|desengagement"
            r"|rapatri[^.]{0,30}(soldats|militaires|troupes)"
            r"|fin de (l'operation|la presence militaire|la mission)"
            r"|bases? (militaires?)?[^.]{0,30}(retrocede|remise|restitu)|barkhane"
            r"|evacu[^.]{0,30}(troupes|soldats|militaires)"
        ),
        "coup": re.compile(
            r"coup d'etat|putsch|junte|mutin|tentative de coup|renvers[^.]{0,40}(president|pouvoir|regime)"
            r"|pris le pouvoir|prise de pouvoir|militaires[^.]{0,40}pouvoir|destitu|coup de force"
        ),
        "peacekeeping": re.compile(
            r"casques bleus|minusma|monusco|minusca|finul|amisom|atmis|kfor|manuh|minuss|unmiss"
            r"|maintien de la paix|mission de (l'onu|paix|stabilisation)"
            r"|force (regionale|multinationale|de paix)"
            r"|eutm|eufor|mission (de l'ua|africaine|multinationale)"
        ),
        "military": re.compile(
            r"\b(troupes|soldats|militaires|armee|forces armees|deploiement|renforts|contingent)\b"
        ),
    },
    "en": {
        "withdrawal": re.compile(
            r"withdr[ae]w|pull(s|ed|ing)? (out|back)|pullout|draw ?down"
            r"|troops? (leave|left|exit|depart|retreat)|forces? (leave|left|exit|retreat)|retreat|evacuat"
            r"|leav(e|es|ing) (the )?(base|city|country)|exit (from )?(afghan|iraq|syria|niger|chad|mali)"
        ),
        "coup": re.compile(
            r"\bcoup\b|junta|putsch|mutin|overthr|ousted|\bouster|seiz(e|ed|es|ing) power|takeover"
            r"|detain(ed|s)? (the )?president|power grab|martial law"
        ),
        "peacekeeping": re.compile(
            r"peacekeep|monusco|unifil|minusca|unmiss|minusma|kfor|atmis|aussom|amisom|\bun mission"
            r"|multinational (security )?(force|mission)|stabili[sz]ation (force|mission)"
            r"|haiti (mission|force)|security mission|blue helmets"
        ),
        "military": re.compile(
            r"\b(troops|soldiers|military|army|forces|deploy\w*|reinforcements|marines)\b"
        ),
    },
}


def matches(item: RawItem) -> set[str]:
    """Names of the queries of ``item``'s language that its title or lede matches."""
    text = fold(f"{item.title} . {item.summary}", lower=True)
    return {name for name, pattern in QUERIES[item.lang].items() if pattern.search(text)}


@dataclass(frozen=True, slots=True)
class Quota:
    """How many items one source gives: event-query hits, military-only hits, random background."""

    source: str
    events: int
    military: int
    background: int


def _eligible(item: RawItem) -> bool:
    if item.source == "rsstrends" and (item.published or "") >= REPLAY_FROM:
        return False
    return not (item.url and "lemonde.fr" in item.url and "/2022/" in item.url)


def select(items: Iterable[RawItem], quota: Quota, rng: random.Random) -> list[dict[str, object]]:
    """Pick ``quota`` items, each tagged with the stratum it came from (``query``)."""
    events: list[tuple[RawItem, set[str]]] = []
    military: list[RawItem] = []
    rest: list[RawItem] = []
    seen: set[str] = set()
    for item in items:
        key = fold(item.title, lower=True)
        if key in seen or item.id in seen or not _eligible(item):
            continue
        seen.update((key, item.id))
        hits = matches(item)
        if hits & set(_EVENT_QUERIES):
            events.append((item, hits))
        elif "military" in hits:
            military.append(item)
        else:
            rest.append(item)
    # The rarest query first (every peacekeeping hit), the others in random order up to the quota.
    rng.shuffle(events)
    events.sort(key=lambda pair: "peacekeeping" not in pair[1])
    chosen: list[dict[str, object]] = []
    for item, hits in events[: quota.events]:
        chosen.append({**item.pointer(), "query": "+".join(sorted(hits & set(_EVENT_QUERIES)))})
    for item in rng.sample(military, min(quota.military, len(military))):
        chosen.append({**item.pointer(), "query": "military"})
    for item in rng.sample(rest, min(quota.background, len(rest))):
        chosen.append({**item.pointer(), "query": "random"})
    return chosen


DEFAULT_QUOTAS = (
    Quota("rsstrends", events=1500, military=250, background=300),
    Quota("orangesum", events=136, military=100, background=100),
    Quota("news-archive", events=900, military=150, background=200),
    Quota("newsflow", events=450, military=100, background=150),
)


# Round 3: what the replay bench and the held-out report showed being flagged wrongly (protests and army
# deployments before a coup, non-state forces, UN or NATO decisions that change no mission, navies,
# planned cuts) and the military vocabulary the event queries did not catch. New items only.
NEAR_MISS_QUERIES: dict[str, re.Pattern[str]] = {
    "fr": re.compile(
        r"manifestant|emeute|insurg|rebelle|conseil de securite|\bonu\b|nations unies|\botan\b|\bpkk\b|kurde"
        r"|africa corps|wagner|haiti|sanctions?\b|porte-avions|fregate|navire de guerre|mission europeenne"
        r"|garde nationale|etat d'urgence|couvre-feu|pentagone"
    ),
    "en": re.compile(
        r"protesters|\briots?\b|rebels|insurgen|security council|united nations|\bnato\b|\bpkk\b|kurd"
        r"|wagner|africa corps|haiti|sanctions?\b|aircraft carrier|warship|national guard|\bnavy\b"
        r"|state of emergency|curfew|pentagon"
    ),
}

NEAR_MISS_QUOTAS = (
    Quota("rsstrends", events=0, military=900, background=300),
    Quota("orangesum", events=0, military=120, background=60),
    Quota("news-archive", events=0, military=500, background=200),
    Quota("newsflow", events=0, military=280, background=140),
)


def select_near_misses(
    items: Iterable[RawItem], quota: Quota, exclude: set[str], rng: random.Random
) -> list[dict[str, object]]:
    """Round 3: ``quota.military`` items with a military word and no event-query hit, and ``quota.background``
    items that only match :data:`NEAR_MISS_QUERIES`, none of them in ``exclude`` (earlier rounds' ids)."""
    military: list[RawItem] = []
    near: list[RawItem] = []
    seen: set[str] = set()
    for item in items:
        key = fold(item.title, lower=True)
        if key in seen or item.id in seen or item.id in exclude or not _eligible(item):
            continue
        seen.update((key, item.id))
        hits = matches(item)
        if hits & set(_EVENT_QUERIES):
            continue
        if "military" in hits:
            military.append(item)
        elif NEAR_MISS_QUERIES[item.lang].search(fold(f"{item.title} . {item.summary}", lower=True)):
            near.append(item)
    chosen: list[dict[str, object]] = []
    for item in rng.sample(military, min(quota.military, len(military))):
        chosen.append({**item.pointer(), "query": "military-2"})
    for item in rng.sample(near, min(quota.background, len(near))):
        chosen.append({**item.pointer(), "query": "near-miss"})
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newswatch.tooling.selection", description=__doc__)
    parser.add_argument("--repo", action="append", required=True, help="NAME=PATH of a source clone")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--near-misses",
        type=Path,
        default=None,
        metavar="SELECTION",
        help="round 3: near misses and hard negatives, none of the ids already in SELECTION (JSONL)",
    )
    args = parser.parse_args(argv)
    repos = dict(spec.split("=", 1) for spec in args.repo)
    rng = random.Random(args.seed)
    rows: list[dict[str, object]] = []
    if args.near_misses is not None:
        with args.near_misses.open(encoding="utf-8") as lines:
            exclude = {json.loads(line)["id"] for line in lines if line.strip()}
        for quota in NEAR_MISS_QUOTAS:
            items = iter_source(quota.source, Path(repos[quota.source]))
            rows.extend(select_near_misses(items, quota, exclude, rng))
    else:
        for quota in DEFAULT_QUOTAS:
            rows.extend(select(iter_source(quota.source, Path(repos[quota.source])), quota, rng))
    args.out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"{len(rows)} items -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
