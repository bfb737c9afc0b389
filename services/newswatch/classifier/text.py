"""Text preparation: clean feed markup, split sentences, cut an article into scoring units, fold accents.

body = article_body("Title", "<p>First. Second.</p>", None)   # "First. Second."
split_sentences(body)                                        # ["First.", "Second."]
fold("Armée française’s", lower=True)                        # "armee francaise's"
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["article_body", "clean_text", "fold", "split_sentences"]

_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u202f]+")
_NEWLINES = re.compile(r"\s*\n\s*")
# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace and an
# upper-case letter, a digit, an opening quote or a dash; or at a line break.
_BOUNDARY = re.compile(
    r"(?<=[.!?…][\"'»”’)\]])\s+(?=[\"'«“‘(\[—–-]?\s?[A-ZÀ-ÖØ-Þ0-9])|(?<=[.!?…])\s+(?=[\"'«“‘(\[—–-]?\s?[A-ZÀ-ÖØ-Þ0-9])|\n+"
)
# Abbreviations after which a full stop does not end a sentence (lower-cased, without the dot).
_ABBREVIATIONS = frozenset(
    {
        *(
            "mr",
            "mrs",
            "ms",
            "dr",
            "prof",
            "gen",
            "lt",
            "col",
            "maj",
            "capt",
            "sgt",
            "sen",
            "rep",
            "gov",
            "st",
        ),
        *("jr", "sr", "no", "vs", "etc", "inc", "corp", "ltd", "co", "u.s", "u.n", "u.k", "e.g", "i.e"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
        *("m", "mme", "mlle", "mm", "me", "art", "av", "j.-c"),
    }
)


def fold(text: str, *, lower: bool = False) -> str:
    """``text`` without accents and with plain apostrophes, lower-cased first when ``lower``: the one accent
    folding of the project, so that "armée"/"armee" and "l’armée"/"l'armée" compare equal everywhere (the
    screen's triggers, country names, evidence de-duplication, corpus selection).

    Unicode NFKD decomposition with the combining marks dropped (é -> e, ç -> c, Å -> A), which also spells
    compatibility characters plainly (ligature ﬁ -> fi, non-breaking space -> space, ½ -> 1⁄2); then the
    typographic apostrophe ’ becomes '. Letters without a decomposition stay (ø, ß, œ, đ). The result can be
    longer than ``text`` (ﬁ, ½), so positions found in it index the folded string, not ``text``.

    >>> fold("Guinée-Bissau’s")
    "Guinee-Bissau's"
    >>> fold("Armée Française", lower=True)
    'armee francaise'
    """
    if lower:
        text = text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("’", "'")


def clean_text(text: str) -> str:
    """Strip markup and entities, normalise spaces, keep line breaks as sentence boundaries.

    >>> clean_text("<p>Troops&nbsp;leave</p>")
    'Troops leave'
    """
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _SPACE.sub(" ", text)
    text = _NEWLINES.sub("\n", text)
    return text.strip()


def article_body(title: str, summary: str, content: str | None) -> str:
    """The text after the title: summary, then content unless it repeats the summary.

    >>> article_body("T", "Lede.", "Lede. More.")
    'Lede. More.'
    """
    summary_c = clean_text(summary)
    if not content:
        return summary_c
    content_c = clean_text(content)
    if summary_c and content_c.startswith(summary_c[: min(len(summary_c), 200)].rstrip(". …")):
        return content_c
    if not summary_c:
        return content_c
    return f"{summary_c}\n{content_c}"


def _is_abbreviation(fragment: str) -> bool:
    last = fragment.rstrip().rsplit(" ", 1)[-1].rstrip(".").lower()
    if not last:
        return False
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def split_sentences(text: str, max_chars: int = 600) -> list[str]:
    """Split text into sentences (EN and FR punctuation); over-long ones are cut at ``max_chars``.

    >>> split_sentences("Troops left Mali. Mr. Smith said so. « Oui », dit-il.")
    ['Troops left Mali.', 'Mr. Smith said so.', '« Oui », dit-il.']
    """
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start : match.start()]
        if match.group(0).strip() == "" and "\n" not in match.group(0) and _is_abbreviation(candidate):
            continue
        pieces.append(candidate)
        start = match.end()
    pieces.append(text[start:])
    sentences: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        while len(piece) > max_chars:
            cut = piece.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            sentences.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        if piece:
            sentences.append(piece)
    return sentences
