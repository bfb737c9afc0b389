"""Settings of the notify service: the ``notify`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_NOTIFY__*``).

    NEWSWATCH_NOTIFY__SUBSCRIPTIONS_FILE=subscriptions.yaml \
    NEWSWATCH_NOTIFY__WEBHOOK_SECRETS='{"ops-team": "s3cret"}' newswatch notify
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["NotifySettings"]


class NotifySettings(BaseModel):
    """Every option of the notify service with its default; times in seconds."""

    model_config = ConfigDict(frozen=True)

    metrics_port: int = Field(default=9103, ge=0, le=65535, description="Prometheus port; 0 disables it.")
    metrics_host: str = "0.0.0.0"
    subscriptions_file: Path | None = Field(
        default=None, description="Subscriptions YAML; None = no subscriptions (notify refuses to start)."
    )
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="HMAC secrets by name, referenced by `secret_ref` in the subscriptions file.",
    )
    group_id: str = Field(default="newswatch-notify", min_length=1, description="Kafka consumer group.")
    store_path: Path | None = Field(
        default=None, description="SQLite delivery log; None = <state_dir>/notify.sqlite3."
    )
    deadletter: str = Field(
        default="topic",
        pattern="^(topic|file)$",
        description="Where failed deliveries go: `topic` (news.deadletter.v1) or `file` (deadletter_dir).",
    )
    deadletter_dir: Path | None = Field(
        default=None,
        description="Per-subscription JSONL dead letters; None = <state_dir>/notify-deadletters.",
    )
    deadletter_max_original_bytes: int = Field(
        default=262_144,
        ge=0,
        le=1_048_576,
        description="Original key and value bytes kept (base64) in a dead letter; even 1 MiB fits its topic.",
    )
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Webhook connect and per-read/write timeout (httpx)."
    )
    attempt_deadline_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest one webhook attempt may take in all, however slowly the receiver answers.",
    )
    max_response_bytes: int = Field(
        default=65_536, ge=0, description="Webhook response body bytes read at most; the rest is dropped."
    )
    max_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts per delivery, the first included."
    )
    backoff_base_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=60.0, gt=0)
    queue_size: int = Field(
        default=10_000,
        ge=1,
        description="Backlog per subscription; when full, the oldest is dead-lettered (intake never waits).",
    )
    park_probe_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A parked subscription (receiver down) gets one attempt this often until it answers.",
    )
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    start_from: str = Field(
        default="earliest",
        pattern="^(earliest|latest)$",
        description="Where a new consumer group starts on the alerts topic.",
    )
    store_retention_seconds: float = Field(
        default=30 * 86_400.0, gt=0, description="Delivery log entries older than this are pruned at start."
    )
    shutdown_grace_seconds: float = Field(default=20.0, ge=0, description="Time to drain queues on stop.")
    user_agent: str = "newswatch-notify/0.1"

    @model_validator(mode="after")
    def _ordered(self) -> NotifySettings:
        if self.backoff_base_seconds > self.backoff_max_seconds:
            raise ValueError("need backoff_base_seconds <= backoff_max_seconds")
        return self
