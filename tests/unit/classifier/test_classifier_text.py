"""Sentence splitting, markup cleaning and the article body."""

from __future__ import annotations

import pytest

from newswatch.classifier.text import article_body, clean_text, fold, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Troops left Mali. They crossed into Niger.", ["Troops left Mali.", "They crossed into Niger."]),
        ("The U.S. Army left. Gen. Milley spoke.", ["The U.S. Army left.", "Gen. Milley spoke."]),
        ('He said "We are done." Then he left.', ['He said "We are done."', "Then he left."]),
        ("« C'est fini », dit-il. Les soldats partent.", ["« C'est fini », dit-il.", "Les soldats partent."]),
        ("Line one\nLine two", ["Line one", "Line two"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_overlong_sentence_is_cut() -> None:
    pieces = split_sentences("word " * 400, max_chars=100)
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 400


def test_clean_text_strips_markup_and_entities() -> None:
    assert clean_text("<p>Troops&nbsp;<b>leave</b> &amp; go</p>") == "Troops leave & go"


def test_article_body_does_not_repeat_summary_in_content() -> None:
    assert article_body("T", "Lede here.", "Lede here. More text.") == "Lede here. More text."
    assert article_body("T", "Lede.", "Other text.") == "Lede.\nOther text."
    assert article_body("T", "", "Only content.") == "Only content."
    assert article_body("T", "Only summary.", None) == "Only summary."


@pytest.mark.parametrize(
    ("text", "lower", "expected"),
    [
        ("Armée Française’s", True, "armee francaise's"),
        ("Guinée-Bissau’s", False, "Guinee-Bissau's"),  # case kept: the country matcher needs capitals
        ("Côte d’Ivoire, ÉTATS-UNIS", False, "Cote d'Ivoire, ETATS-UNIS"),
        ("ﬁn\u00a0½", False, "fin 1⁄2"),  # compatibility forms spelt plainly (the result may be longer)
        ("Øresund Straße œuvre", True, "øresund straße œuvre"),  # letters without a decomposition stay
        ("İstanbul", True, "istanbul"),
    ],
)
def test_fold(text: str, lower: bool, expected: str) -> None:
    assert fold(text, lower=lower) == expected
