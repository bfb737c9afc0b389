"""Settings of the notify service: the ``notify`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_NOTIFY__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class NotifySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    metrics_port: int = 9103
