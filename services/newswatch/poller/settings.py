"""Settings of the poller service: the ``poller`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_POLLER__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PollerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    metrics_port: int = 9101
