"""Countries named in English or French text, as ISO 3166-1 alpha-2 codes, in order of first mention.

Names come from pycountry (English, plus its French translations via gettext); the tables in
``countries.json`` (read once, at import) add the short names, capitals, peace-operation acronyms and demonyms
that no maintained package ships. Longest match wins, so "Guinea-Bissau" is not "Guinea", "Nigeria" is not
"Niger", and "Gulf of Guinea" / "golfe de Guinée" name no country. A bare "Congo" means the DR Congo unless
the text says Brazzaville or "Republic of (the) Congo". A peacekeeping mission's name names its host country
("MONUSCO" is the DR Congo). A capital that seats an organisation the text also names is that organisation's
venue, not a party: "ECOWAS leaders will meet in Abuja" does not name Nigeria ("Nigeria" or "Nigerian" in the
same text still does).

    extract_countries("Les derniers soldats français ont quitté le Mali pour le Niger")   # ("FR", "ML", "NE")
"""

from __future__ import annotations

import gettext
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import pycountry

from newswatch.classifier.text import fold as _fold

__all__ = ["MISSION_HOSTS", "CountryMatcher", "CountryMention", "extract_countries"]

_NONE = ""  # a phrase that blocks shorter matches but names no country
_TABLES_FILE = "countries.json"


def _read_tables() -> dict[str, dict[str, str]]:
    """The four tables of ``countries.json`` (names, mission_hosts, seats, demonyms): phrase -> code, or for
    seats capital -> regular expression of the organisations it seats."""
    raw = json.loads(resources.files(__package__).joinpath(_TABLES_FILE).read_text(encoding="utf-8"))
    return {name: dict(table["phrases"]) for name, table in raw.items() if isinstance(table, dict)}


_TABLES = _read_tables()
# Short names, aliases and capitals (proper nouns: matched only when capitalised in the text).
_NAMES = _TABLES["names"]
# Peace operations by acronym, each naming its host country ("MONUSCO" is the DR Congo).
MISSION_HOSTS: Mapping[str, str] = MappingProxyType(_TABLES["mission_hosts"])
# Capitals that seat an international organisation: when the text names that organisation (case-sensitively),
# the capital is read as its venue ("an ECOWAS summit in Abuja"), not as the country.
_SEATS = _TABLES["seats"]
# Demonyms and adjectives (matched in any case: French writes them in lower case).
_DEMONYMS = _TABLES["demonyms"]


def trie_alternation(phrases: list[str]) -> str:
    """A regex alternation of ``phrases`` with shared prefixes merged: the same matches as the phrases sorted
    longest first (a longer phrase wins; backtracking falls back to a shorter one), but Python's ``re`` tests
    one branch per character instead of every phrase at every position (about 10x faster over ~950 names).

    >>> trie_alternation(["mali", "malawi", "niger", "nigeria"])
    '(?:(?:mal(?:awi|i)|niger(?:ia)?))'
    """
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        ends_here = "" in node
        branches = []
        for char in sorted(k for k in node if k):
            child = node[char]
            chars = [char]
            while len(child) == 1 and "" not in child:  # a chain of single children: one literal run
                ((next_char, child),) = child.items()
                chars.append(next_char)
            rest = emit(child)
            branches.append(re.escape("".join(chars)) + rest)
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if ends_here else body

    return f"(?:{emit(trie)})"


_SEPARATORS = re.compile(r"[\s\-\u2010\u2011]+")


def _separators(phrase: str) -> str:
    """One space for every run of spaces and hyphens: outlets write "Guinée-Bissau", "Guinee Bissau" and
    "Burkina-Faso" alike, so table keys and matched text compare in this form."""
    return _SEPARATORS.sub(" ", phrase)


def _spaced(phrases: list[str]) -> str:
    """:func:`trie_alternation` of space-separated ``phrases`` in which each space matches any run of
    spaces or hyphens."""
    return trie_alternation(phrases).replace(re.escape(" "), r"[\s\-\u2010\u2011]+")


def _pycountry_names() -> dict[str, str]:
    names: dict[str, str] = {}
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    for country in pycountry.countries:
        code = str(country.alpha_2)
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if not value:
                continue
            for candidate in (str(value), french.gettext(str(value))):
                if "," not in candidate and len(candidate) > 3:
                    names.setdefault(_fold(candidate).lower(), code)
    return names


@dataclass(frozen=True, slots=True)
class CountryMention:
    """One country named in a text; ``start``/``end`` index :meth:`CountryMatcher.fold` of that text."""

    start: int
    end: int
    code: str


@dataclass(frozen=True)
class CountryMatcher:
    """Compiled phrase tables; build once with :meth:`default` and reuse (it is immutable)."""

    names: dict[str, str]
    demonyms: dict[str, str]
    name_pattern: re.Pattern[str]
    demonym_pattern: re.Pattern[str]
    seats: dict[str, re.Pattern[str]] = field(default_factory=dict)

    @classmethod
    @lru_cache(maxsize=1)
    def default(cls) -> CountryMatcher:
        """The matcher over pycountry's EN/FR names plus the project's short-name/demonym/capital table."""
        names = _pycountry_names()
        for phrase, code in (*_NAMES.items(), *MISSION_HOSTS.items()):
            names[_fold(phrase)] = code
        names = {_separators(phrase.lower()): code for phrase, code in names.items()}
        demonyms = {_separators(_fold(p).strip().lower()): c for p, c in _DEMONYMS.items()}
        seats = {_separators(_fold(capital).lower()): re.compile(orgs) for capital, orgs in _SEATS.items()}

        name_pattern = re.compile(rf"(?<![\w-])(?:{_spaced(list(names))})(?![\w-]|'\w\w)", re.IGNORECASE)
        demonym_pattern = re.compile(rf"(?<![\w-])(?:{_spaced(list(demonyms))})(?![\w-])", re.IGNORECASE)
        return cls(names, demonyms, name_pattern, demonym_pattern, seats)

    @staticmethod
    def fold(text: str) -> str:
        """``text`` without accents and with plain apostrophes: the string that mention spans index.

        CountryMatcher.fold("Guinée-Bissau")   # 'Guinee-Bissau'
        """
        return _fold(text)

    def mentions(self, text: str) -> tuple[CountryMention, ...]:
        """Every country mention in ``text``, in text order, spans into :meth:`fold` of ``text``.

        CountryMatcher.default().mentions("French troops left Mali")   # FR at 0-6, ML at 19-23
        """
        folded = _fold(text)
        hits: list[CountryMention] = []
        taken: list[tuple[int, int]] = []
        for match in self.name_pattern.finditer(folded):
            phrase = match.group(0)
            if not phrase[0].isupper():  # proper nouns only ("mali" in "somali" is excluded by the boundary)
                continue
            key = _separators(phrase.lower())
            code = self.names.get(key, _NONE)
            seat_of = self.seats.get(key)
            if seat_of is not None and seat_of.search(folded):  # the organisation's venue, not a party
                code = _NONE
            taken.append(match.span())
            if code:
                hits.append(CountryMention(match.start(), match.end(), code))
        for match in self.demonym_pattern.finditer(folded):
            if any(start <= match.start() < end for start, end in taken):
                continue
            code = self.demonyms.get(_separators(match.group(0).lower()), _NONE)
            if code:
                hits.append(CountryMention(match.start(), match.end(), code))
        if any(h.code == "CD" for h in hits) and re.search(
            r"Brazzaville|[Rr]epubli\w+ (?:of the |du )?Congo", folded
        ):
            congo_cd = {m.start() for m in re.finditer(r"(?<![\w-])Congo(?![\w-])", folded)}
            hits = [
                CountryMention(h.start, h.end, "CG") if h.code == "CD" and h.start in congo_cd else h
                for h in hits
            ]
        return tuple(sorted(hits, key=lambda h: h.start))

    def extract(self, text: str) -> tuple[str, ...]:
        """ISO alpha-2 codes in order of first mention, without repeats."""
        return tuple(dict.fromkeys(h.code for h in self.mentions(text)))


def extract_countries(text: str) -> tuple[str, ...]:
    """Countries named in ``text`` (EN or FR), ISO 3166-1 alpha-2, in order of first mention.

    >>> extract_countries("Niger's junta expelled French troops; Nigeria closed the border.")
    ('NE', 'FR', 'NG')
    """
    return CountryMatcher.default().extract(text)
