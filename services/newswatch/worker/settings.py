"""Settings of the worker service: the ``worker`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_WORKER__*``).

    NEWSWATCH_WORKER__APP_ID=newswatch-worker NEWSWATCH_WORKER__BATCH_MAX_SIZE=64 newswatch worker

Topic names come from the ``kafka`` section (``NEWSWATCH_KAFKA__TOPIC_ARTICLES`` ...); the internal topics
(alert candidates and the alert table's changelog) are named after ``app_id``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AlertPolicy", "WorkerSettings"]


class AlertPolicy(BaseModel):
    """How positives are grouped into alerts and how severe an alert is (see docs/worker.md)."""

    model_config = ConfigDict(frozen=True)

    window_hours: float = Field(
        default=48.0, gt=0, description="Event-time distance within which two reports may be the same event."
    )
    entity_window_hours: float = Field(
        default=336.0, gt=0, description="The window for reports naming the same mission or operation."
    )
    retention_hours: float = Field(
        default=336.0, gt=0, description="An alert stays open for updates this long after its last update."
    )
    min_match_score: float = Field(default=0.55, ge=0, le=1, description="Country + text similarity needed.")
    entity_min_match_score: float = Field(
        default=0.65, ge=0, le=1, description="Telling-word similarity a late report needs (docs/worker.md)."
    )
    placeless_coup_min_probability: float = Field(
        default=0.9,
        ge=0,
        le=1,
        description="A coup candidate naming no country opens an alert only at this probability (a coup is a "
        "country's: a placeless one is mostly a figure of speech); it may always join an open alert.",
    )
    max_open_alerts_per_group: int = Field(default=500, ge=1)
    max_evidence: int = Field(default=10, ge=1, description="Evidence sentences kept per alert.")
    max_links: int = Field(default=100, ge=1, description="Links and article ids listed per alert.")
    max_outlets: int = Field(
        default=100, ge=3, description="Outlets listed per alert (severity needs at most flash_min_outlets)."
    )
    flash_probability: float = Field(default=0.90, ge=0, le=1)
    flash_min_outlets: int = Field(default=3, ge=1)
    urgent_probability: float = Field(default=0.90, ge=0, le=1)
    urgent_corroborated_probability: float = Field(default=0.70, ge=0, le=1)
    urgent_min_outlets: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> AlertPolicy:
        if not self.window_hours <= self.entity_window_hours <= self.retention_hours:
            raise ValueError("need window_hours <= entity_window_hours <= retention_hours")
        if self.urgent_min_outlets > self.flash_min_outlets:
            raise ValueError("need urgent_min_outlets <= flash_min_outlets")
        if self.flash_min_outlets > self.max_outlets:
            raise ValueError("need flash_min_outlets <= max_outlets")
        return self


class WorkerSettings(BaseModel):
    """Every option of the worker with its default; times in seconds, sizes in bytes."""

    model_config = ConfigDict(frozen=True)

    metrics_port: int = Field(default=9102, ge=0, le=65535, description="Prometheus port; 0 disables it.")
    metrics_host: str = "0.0.0.0"
    app_id: str = Field(
        default="newswatch-worker",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Faust app id: the consumer group and the prefix of the internal topics.",
    )
    web_enabled: bool = Field(default=False, description="Faust's own web server (not needed for metrics).")
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    batch_max_size: int = Field(default=32, ge=1, le=1024, description="Most articles per inference batch.")
    batch_within_seconds: float = Field(
        default=0.5, gt=0, le=60, description="A partial batch is classified after waiting this long."
    )
    max_record_bytes: int = Field(
        default=1_000_000, ge=1024, description="Larger article records are dead-lettered unparsed."
    )
    deadletter_max_original_bytes: int = Field(
        default=262_144,
        ge=0,
        le=1_048_576,
        description="Original bytes kept (base64) in a dead letter; keeps it under Kafka's 1 MB default.",
    )
    classify_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="A classifier call running longer is abandoned; its articles are retried one by one.",
    )
    max_classify_attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="An article in flight at this many worker deaths is dead-lettered unclassified.",
    )
    fetch_partition_bytes: int = Field(
        default=65_536,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Most bytes fetched per partition and request: how far a backlog is read ahead.",
    )
    alert_partitions: int = Field(
        default=3, ge=1, description="Partitions of the alert-candidate topic and of the alert table."
    )
    replication_factor: int = Field(default=1, ge=1, description="Of the worker's internal topics.")
    table_standby_replicas: int = Field(default=1, ge=0)
    commit_interval_seconds: float = Field(default=2.0, gt=0)
    session_timeout_seconds: float = Field(
        default=30.0,
        ge=6,
        le=300,
        description="A worker silent this long loses its partitions to the others.",
    )
    lag_interval_seconds: float = Field(default=5.0, gt=0, description="How often consumer lag is measured.")
    alerts: AlertPolicy = AlertPolicy()
