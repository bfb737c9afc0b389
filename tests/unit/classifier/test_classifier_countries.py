"""Countries from English and French text: names, demonyms, capitals, and the ambiguous cases."""

from __future__ import annotations

import pytest

from newswatch.classifier.countries import extract_countries


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
