"""Settings of the poller service: the ``poller`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_POLLER__*``).

    NEWSWATCH_POLLER__FEEDS_FILE=my-feeds.yaml NEWSWATCH_POLLER__MAX_BODY_BYTES=5000000 newswatch poll --once
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["PollerSettings"]


class PollerSettings(BaseModel):
    """Every option of the poller with its default; times in seconds, sizes in bytes."""

    model_config = ConfigDict(frozen=True)

    metrics_port: int = Field(default=9101, ge=0, le=65535, description="Prometheus port; 0 disables it.")
    metrics_host: str = "0.0.0.0"
    feeds_file: Path | None = Field(default=None, description="Feed list YAML; None = the bundled list.")
    store_path: Path | None = Field(
        default=None, description="SQLite store; None = <state_dir>/poller.sqlite3."
    )
    user_agent: str = "newswatch-poller/0.1 (+https://github.com/newswatch/newswatch)"
    # HTTP
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    read_timeout_seconds: float = Field(default=20.0, gt=0)
    fetch_deadline_seconds: float = Field(default=60.0, gt=0, description="Whole fetch, redirects included.")
    max_body_bytes: int = Field(default=10_000_000, gt=0, description="Decoded body cap; larger is aborted.")
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_concurrency: int = Field(default=32, ge=1, description="Feeds fetched at once, all hosts together.")
    per_host_concurrency: int = Field(default=2, ge=1, description="Feeds fetched at once per origin.")
    allow_private_networks: tuple[str, ...] = Field(
        default=(), description="CIDRs a feed may resolve to although not global, e.g. ['127.0.0.1/32']."
    )
    max_entries_per_feed: int = Field(
        default=1000,
        ge=1,
        description="Entries read from one document (about 1.5 s of CPU per 1,000); the rest, the last in "
        "document order, are counted as too_many rejections.",
    )
    # Scheduling
    default_interval_seconds: float = Field(default=900.0, gt=0)
    min_interval_seconds: float = Field(default=60.0, gt=0)
    max_interval_seconds: float = Field(default=86_400.0, gt=0, description="Cap of the next check.")
    backoff_base_seconds: float = Field(default=60.0, gt=0)
    backoff_max_seconds: float = Field(default=21_600.0, gt=0)
    backoff_jitter: float = Field(default=0.2, ge=0, lt=1, description="Relative +/- jitter of back-off.")
    # Publishing
    max_record_bytes: int = Field(
        default=1_000_000,
        gt=0,
        le=1_000_000,
        description="Largest encoded Article (key + JSON value); a larger entry is a counted rejection "
        "(too_large). The producer and the articles topic take 1 MiB, record overhead included.",
    )
    publish_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Kafka delivery timeout; a batch not acknowledged by then is retried."
    )
    producer_start_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Bootstrap of the Kafka producer, built in the background; a publish waits no longer "
        "for it (the poll is then a publish_error, retried), and fetching never waits for it.",
    )
    shutdown_grace_seconds: float = Field(default=30.0, gt=0)

    @field_validator("allow_private_networks")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> PollerSettings:
        if not self.min_interval_seconds <= self.default_interval_seconds <= self.max_interval_seconds:
            raise ValueError("need min_interval_seconds <= default_interval_seconds <= max_interval_seconds")
        if self.backoff_base_seconds > self.backoff_max_seconds:
            raise ValueError("need backoff_base_seconds <= backoff_max_seconds")
        return self
