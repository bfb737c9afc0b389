"""Settings of the worker service: the ``worker`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_WORKER__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WorkerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    metrics_port: int = 9102
