"""newswatch.classifier: the event classifier (military_withdrawal, coup, peacekeeping_change; EN and FR).

    from newswatch.classifier import load_classifier
    clf = load_classifier(settings.classifier)
    clf.classify(articles)     # list[Classification], same order

The heavy parts (torch, transformers) load on first use, so importing the settings stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newswatch.classifier.errors import (
    ArtefactError,
    BaseModelError,
    ClassifierError,
    InferenceError,
    TrainingDataError,
)
from newswatch.classifier.settings import ClassifierSettings
from newswatch.lazy import lazy_attributes

if TYPE_CHECKING:
    from newswatch.classifier.classifier import EventClassifier
    from newswatch.classifier.countries import extract_countries
    from newswatch.classifier.loader import load_classifier
    from newswatch.classifier.screen import passes_screen

__all__ = [
    "ArtefactError",
    "BaseModelError",
    "ClassifierError",
    "ClassifierSettings",
    "EventClassifier",
    "InferenceError",
    "TrainingDataError",
    "extract_countries",
    "load_classifier",
    "passes_screen",
]

_LAZY = {
    "EventClassifier": "newswatch.classifier.classifier",
    "extract_countries": "newswatch.classifier.countries",
    "load_classifier": "newswatch.classifier.loader",
    "passes_screen": "newswatch.classifier.screen",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
