"""Settings of ``newswatch serve``: the ``serve`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_SERVE__*``).

    NEWSWATCH_SERVE__PORT=8080 NEWSWATCH_SERVE__HOST=0.0.0.0 newswatch serve
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ServeSettings"]


class ServeSettings(BaseModel):
    """Every option of the serve service with its default; times in seconds."""

    model_config = ConfigDict(frozen=True)

    host: str = Field(default="127.0.0.1", description="Interface the HTTP server listens on.")
    port: int = Field(
        default=9104, ge=0, le=65535, description="HTTP port: page, Atom, JSON API, CAP, /metrics."
    )
    store_path: Path | None = Field(
        default=None, description="SQLite read model of the alerts topic; None = <state_dir>/serve.sqlite3."
    )
    max_age_days: float = Field(
        default=365.0,
        gt=0,
        description="Alert versions last updated longer ago are pruned (the alerts topic keeps 365 days).",
    )
    prune_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the read model drops what the topic no longer holds."
    )
    page_size: int = Field(default=50, ge=1, le=500, description="Alerts per page and API response.")
    poll_timeout_ms: int = Field(default=500, ge=10, le=10_000)
    lag_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often end offsets are read to report the read model's lag."
    )
    base_url: str | None = Field(
        default=None,
        description="Public URL of the service for Atom and CAP links; None = the URL of each request.",
    )
    sender: str = Field(default="newswatch@localhost", min_length=1, description="CAP <sender>.")
