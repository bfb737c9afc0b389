"""The one typed settings object, read from ``NEWSWATCH_*`` environment variables with safe defaults.

Nested sections use ``__``: ``NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS=broker:9092``,
``NEWSWATCH_POLLER__FEEDS_FILE=feeds.yaml``. Nothing else in the code reads ``os.environ``.

    settings = Settings()
    settings.kafka.bootstrap_servers
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from newswatch.classifier.settings import ClassifierSettings
from newswatch.notify.settings import NotifySettings
from newswatch.poller.settings import PollerSettings
from newswatch.serve.settings import ServeSettings
from newswatch.worker.settings import WorkerSettings

__all__ = ["KafkaSettings", "Settings"]


class KafkaSettings(BaseModel):
    """How every client we create reaches Kafka (plaintext locally, TLS and/or SASL in production).

    The ``local_*`` fields configure the single-node development broker (``newswatch kafka start``);
    ``docs/kafka.md`` explains them.
    """

    model_config = ConfigDict(frozen=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "newswatch"
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = True
    topic_articles: str = "news.articles.v1"
    topic_classified: str = "news.classified.v1"
    topic_alerts: str = "news.alerts.v1"
    topic_deadletter: str = "news.deadletter.v1"
    topic_replication_factor: int = Field(
        default=1, ge=1, description="1 on the local broker, 3 in production."
    )
    local_host: str = "127.0.0.1"
    local_port: int = Field(default=9092, ge=1, le=65535)
    local_controller_port: int = Field(default=9093, ge=1, le=65535)
    local_heap_mb: int = Field(default=512, ge=128)
    local_jars_dir: Path | None = Field(
        default=None, description="Default: ~/.cache/newswatch/kafka-<version>/lib (outside the repository)."
    )
    local_start_timeout_s: float = Field(default=90.0, gt=0)
    local_stop_timeout_s: float = Field(default=30.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSWATCH_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    state_dir: Path = Field(default=Path(".state"), description="Local state: broker data, poller store.")
    kafka: KafkaSettings = KafkaSettings()
    poller: PollerSettings = PollerSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    worker: WorkerSettings = WorkerSettings()
    notify: NotifySettings = NotifySettings()
    serve: ServeSettings = ServeSettings()
