"""Errors of the classifier service.

ClassifierError                  root: anything the classifier cannot do
├── ArtefactError                the trained artefact is missing, corrupt or does not fit the base model
├── BaseModelError               the base encoder cannot be found or loaded
├── InferenceError               the model failed on a batch (the caller may retry article by article)
└── TrainingDataError            a training or evaluation file is unreadable or malformed
"""

from __future__ import annotations

__all__ = ["ArtefactError", "BaseModelError", "ClassifierError", "InferenceError", "TrainingDataError"]


class ClassifierError(Exception):
    """Root of every error the classifier raises."""


class ArtefactError(ClassifierError):
    """The trained artefact is missing, corrupt, or was trained on another base model."""


class BaseModelError(ClassifierError):
    """The base encoder's files cannot be found or loaded."""


class InferenceError(ClassifierError):
    """The model failed on a batch."""


class TrainingDataError(ClassifierError):
    """A labelled data file is unreadable or has a malformed line."""
