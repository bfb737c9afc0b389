"""Settings of the classifier service: the ``classifier`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_CLASSIFIER__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ClassifierSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_dir: str | None = None
