"""The cheap first stage: English and French trigger words that any article of interest contains.

Articles with no trigger skip the transformer (they get the artefact's ``screened_prior``). The list is
deliberately broad: it must keep every positive of the dev set while dropping most ordinary news.

    passes_screen("Football: Arsenal sign striker")              # False
    passes_screen("Les derniers soldats français ont quitté le Mali")  # True
"""

from __future__ import annotations

import re

from newswatch.classifier.text import fold

__all__ = ["TRIGGER_PATTERN", "passes_screen"]

_STEMS = (
    # forces and operations (EN)
    r"troop",
    r"soldier",
    r"militar",
    r"army",
    r"armies",
    r"armed forces?",
    r"forces\b",
    r"marines?\b",
    r"navy",
    r"naval",
    r"air ?base",
    r"garrison",
    r"contingent",
    r"battalion",
    r"brigade",
    r"regiment",
    r"mercenar",
    r"wagner",
    r"barkhane",
    r"takuba",
    r"sabre",
    r"paratroop",
    r"special forces",
    r"\bnato\b",
    r"\botan\b",
    r"\bboots on the ground",
    # withdrawal (EN/FR)
    r"withdr[ae]w",
    r"pull(?:s|ed|ing)? (?:out|back)",
    r"pull-?out",
    r"draw(?:s|n|ing)? ?down",
    r"drew down",
    r"retreat",
    r"evacuat",
    r"redeploy",
    r"\bexit\b",
    r"\bretrait",
    r"\bretir",
    r"quitt",
    r"desengag",
    r"rapatri",
    r"replier",
    r"repli\b",
    r"evacu",
    # coup (EN/FR)
    r"\bcoup",
    r"putsch",
    r"junta",
    r"\bjunte",
    r"mutin",
    r"overthr",
    r"\bousted?\b",
    r"ouster",
    r"toppl",
    r"seiz\w* power",
    r"seiz\w* control",
    r"took power",
    r"tak\w* power",
    r"takeover",
    r"power grab",
    r"renvers",
    r"prise du pouvoir",
    r"pris le pouvoir",
    r"prend le pouvoir",
    r"insurrection",
    r"rebellion",
    r"uprising",
    r"soulevement",
    r"destitu",
    r"deposed?\b",
    r"state of emergency",
    r"martial law",
    r"presidential guard",
    r"garde presidentielle",
    r"loi martiale",
    r"couvre-feu",
    r"curfew",
    # peacekeeping (EN/FR)
    r"peace ?-?keep",
    r"blue helmet",
    r"casques? bleus?",
    r"maintien de la paix",
    r"stabili[sz]ation",
    r"\bmandate?",
    r"\bmission",
    r"\bun (?:force|mission|security council)",
    r"security council",
    r"conseil de securite",
    r"\bonu\b",
    r"\bminus",
    r"monusco",
    r"unmiss",
    r"unifil",
    r"\bfinul",
    r"atmis",
    r"amisom",
    r"\bkfor\b",
    r"\beutm",
    r"eufor",
    r"unamid",
    r"undof",
    r"unisfa",
    r"minurso",
    r"unficyp",
    r"unmik",
    r"binuh",
    r"samim",
    r"ecomig",
    r"misca\b",
    r"\bafisma",
    r"ecowas",
    r"cedeao",
    r"african union",
    r"union africaine",
    # forces (FR)
    r"\btroupe",
    r"soldat",
    r"\barmee",
    r"\bforces?\b",
    r"militair",
    r"legionna",
    r"gendarm",
    r"paramilit",
    r"milice",
    r"militia",
)

TRIGGER_PATTERN = re.compile("|".join(f"(?:{stem})" for stem in _STEMS))


def passes_screen(text: str) -> bool:
    """True when the text contains any trigger word (then the transformer must look at it). The triggers are
    written lower-case and without accents: they match the text as :func:`fold` (``lower=True``) leaves it."""
    return TRIGGER_PATTERN.search(fold(text, lower=True)) is not None
