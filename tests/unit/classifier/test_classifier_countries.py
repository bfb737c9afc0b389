"""Countries from English and French text: names, demonyms, capitals, and the ambiguous cases."""

from __future__ import annotations

import pytest

from newswatch.classifier.countries import CountryMatcher, extract_countries


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Niger's junta expelled French troops; Nigeria closed the border.", ("NE", "FR", "NG")),
        ("Nigerian and Nigerien officials met in Abuja and Niamey.", ("NG", "NE")),
        ("Coup in Guinea: soldiers detain Condé in Conakry.", ("GN",)),
        ("Guinea-Bissau foils coup attempt", ("GW",)),
        ("Equatorial Guinea and Papua New Guinea", ("GQ", "PG")),
        ("Pirates in the Gulf of Guinea", ()),
        ("MONUSCO leaves the DR Congo", ("CD",)),
        ("Troops in Brazzaville, Republic of Congo", ("CG",)),
        ("Les derniers soldats français ont quitté le Mali", ("FR", "ML")),
        ("La Guinée-Bissau et la Guinée équatoriale", ("GW", "GQ")),
        ("Coup d'État au Burkina Faso, selon Ouagadougou", ("BF",)),
        ("Les casques bleus quittent la République démocratique du Congo", ("CD",)),
        ("Retrait des troupes russes de Kherson, annonce Moscou", ("RU",)),
        ("Washington and Moscow talk; Kyiv waits", ("US", "RU", "UA")),
        ("The stock market rallied today", ()),
        ("Somali forces advance", ("SO",)),
        ("Fishermen on Lake Chad", ()),
    ],
)
def test_extract_countries(text: str, expected: tuple[str, ...]) -> None:
    assert extract_countries(text) == expected


def test_lower_case_names_are_not_countries_but_demonyms_are() -> None:
    assert extract_countries("he ate a turkey with us") == ()
    assert extract_countries("les soldats maliens") == ("ML",)


def test_order_is_first_mention_without_repeats() -> None:
    assert extract_countries("Mali, France, Mali again and French troops") == ("ML", "FR")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the demo's Guinea-Bissau coup alert showed NG: "Abuja" is where ECOWAS sits, not a party to the coup
        (
            "ECOWAS leaders will meet in Abuja on Saturday after soldiers in Guinea-Bissau overthrew the "
            "president.",
            ("GW",),
        ),
        ("Les dirigeants de la CEDEAO se réuniront à Abuja samedi.", ()),
        ("ECOWAS chair Nigeria summons leaders to Abuja", ("NG",)),
        ("Nigerian troops will join the ECOWAS force, Abuja said.", ("NG",)),
        ("Gunfire heard in Abuja overnight", ("NG",)),
        ("The African Union summit in Addis Ababa condemned the coup in Niger.", ("NE",)),
        ("Talks in Addis Ababa", ("ET",)),
        ("NATO ministers met in Brussels", ()),
    ],
)
def test_a_capital_seating_a_named_organisation_is_its_venue(text: str, expected: tuple[str, ...]) -> None:
    assert extract_countries(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Monusco : le Conseil de sécurité prolonge la mission d'un an", ("CD",)),
        ("Security Council renews MONUSCO mandate", ("CD",)),
        ("Egypt suspends its participation in MINUSMA", ("EG", "ML")),
        ("La FINUL renforce ses patrouilles", ("LB",)),
        ("the monusco convoy", ()),  # acronyms are proper nouns: capitalised only
    ],
)
def test_a_peacekeeping_mission_names_its_host_country(text: str, expected: tuple[str, ...]) -> None:
    assert extract_countries(text) == expected


def test_mentions_give_codes_and_spans_into_the_folded_text() -> None:
    matcher = CountryMatcher.default()
    text = "Les soldats français ont quitté Bamako"
    mentions = matcher.mentions(text)
    folded = CountryMatcher.fold(text)
    assert [(m.code, folded[m.start : m.end]) for m in mentions] == [("FR", "francais"), ("ML", "Bamako")]
    assert matcher.extract(text) == ("FR", "ML")


def test_trie_alternation_matches_like_the_longest_first_alternation() -> None:
    """Same spans as the plain alternation (phrases sorted longest first), on phrases that share prefixes."""
    import random
    import re

    from newswatch.classifier.countries import trie_alternation

    rng = random.Random(5)
    for _ in range(200):
        phrases = list({"".join(rng.choice("ab -'") for _ in range(rng.randint(1, 6))) for _ in range(12)})
        plain = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
        text = "".join(rng.choice("ab -'c") for _ in range(80))
        for wrap in ("(?:{})", r"(?<![\w-])(?:{})(?![\w-]|'\w\w)"):
            want = [m.span() for m in re.finditer(wrap.format(plain), text, re.IGNORECASE)]
            got = [m.span() for m in re.finditer(wrap.format(trie_alternation(phrases)), text, re.IGNORECASE)]
            assert got == want, (phrases, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tentative de coup d'État à Sao Tomé", ("ST",)),
        ("São Tomé-et-Principe : le gouvernement dénonce un putsch", ("ST",)),
        ("Guinee Bissau: des militaires arrêtent le président", ("GW",)),
        ("Guinée - Bissau : la junte", ("GW",)),
        ("Burkina-Faso: la junte prolonge la transition", ("BF",)),
        ("Cote d Ivoire troops", ("CI",)),
        ("Guinea-Bissau and Guinea Bissau are one country", ("GW",)),
    ],
)
def test_names_as_outlets_write_them(text: str, expected: tuple[str, ...]) -> None:
    # With or without accents, with a hyphen or a space between the words of a name.
    assert extract_countries(text) == expected
