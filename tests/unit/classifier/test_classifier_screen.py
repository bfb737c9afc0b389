"""The lexical screen: broad English and French triggers."""

from __future__ import annotations

import pytest

from newswatch.classifier.screen import fold, passes_screen


@pytest.mark.parametrize(
    "text",
    [
        "France says last Barkhane soldiers have left Mali",
        "Russia announces withdrawal from Kherson",
        "Military junta seizes power in Niger",
        "UN Security Council renews MONUSCO mandate",
        "Les casques bleus quittent le Mali",
        "Coup d'État au Gabon : des militaires annoncent la fin du régime",
        "Le retrait des troupes françaises est achevé",
        "La Minusma plie bagage",
    ],
)
def test_relevant_texts_pass(text: str) -> None:
    assert passes_screen(text)


@pytest.mark.parametrize(
    "text",
    [
        "Arsenal sign striker on five-year deal",
        "Apple unveils new iPhone with faster chip",
        "Le Parlement adopte le budget de la Sécurité sociale",
        "Heatwave to hit southern England this weekend",
    ],
)
def test_irrelevant_texts_are_screened_out(text: str) -> None:
    assert not passes_screen(text)


def test_fold_strips_accents_and_case() -> None:
    assert fold("Armée Française’s") == "armee francaise's"
