"""Subscriptions: who receives which alerts, read from a YAML file.

subscriptions:
  - name: ops-team                     # [a-z0-9_-], used as a metric label
    event_types: [coup]                # default: all three
    countries: [ML, NE, BF]            # ISO 3166-1 alpha-2; default/empty: any country
    min_severity: urgent               # routine < urgent < flash; default routine
    destination:
      type: webhook
      url: https://hooks.example.org/newswatch
      secret_ref: ops-team             # key of NEWSWATCH_NOTIFY__WEBHOOK_SECRETS, or:
      # secret_file: /run/secrets/ops-team
      format: json                     # json (Alert v1, default) | slack | teams | adaptive_card
  - name: terminal
    destination: {type: console}

subs = load_subscriptions(Path("subscriptions.yaml"), secrets={})
[s.name for s in subs if s.matches(alert)]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pycountry
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from newswatch.contracts import EVENT_TYPES, Alert, EventType, Severity
from newswatch.notify.errors import SecretNotFoundError, SubscriptionConfigError
from newswatch.notify.formats import PAYLOAD_FORMATS, PayloadFormat

__all__ = [
    "SEVERITY_RANK",
    "ConsoleDestination",
    "Destination",
    "Subscription",
    "WebhookDestination",
    "alert_matches",
    "load_subscriptions",
    "parse_subscriptions",
]

SEVERITY_RANK: dict[Severity, int] = {"routine": 0, "urgent": 1, "flash": 2}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookDestination(_Frozen):
    """An HTTPS (or, for tests and private networks, HTTP) endpoint receiving signed JSON POSTs.

    ``format`` picks the body (``newswatch.notify.formats``): the Alert v1 record (``json``), a Slack
    incoming-webhook message (``slack``), a Teams message with an Adaptive Card (``teams``) or the card alone
    (``adaptive_card``). Every format is signed the same way.
    """

    type: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)
    format: PayloadFormat = "json"
    secret_ref: str | None = None
    secret_file: Path | None = None
    secret: SecretStr | None = Field(default=None, description="Resolved at load time; never in the file.")
    timeout_seconds: float | None = Field(default=None, gt=0)
    headers: dict[str, str] = Field(default_factory=dict, description="Extra static headers.")

    @model_validator(mode="after")
    def _one_secret_source(self) -> WebhookDestination:
        sources = [s for s in (self.secret_ref, self.secret_file, self.secret) if s is not None]
        if len(sources) != 1:
            raise ValueError("a webhook needs exactly one of secret_ref or secret_file")
        return self

    @field_validator("format", mode="before")
    @classmethod
    def _known_format(cls, value: Any) -> Any:
        if value not in PAYLOAD_FORMATS:
            raise ValueError(f"unknown format {value!r}; one of {', '.join(PAYLOAD_FORMATS)}")
        return value

    def __repr__(self) -> str:  # never show the secret, even by accident
        return f"WebhookDestination(url={self.url!r}, format={self.format!r})"


class ConsoleDestination(_Frozen):
    """Alerts printed, escaped, one per line on stdout."""

    type: Literal["console"] = "console"


Destination = Annotated[WebhookDestination | ConsoleDestination, Field(discriminator="type")]


class Subscription(_Frozen):
    """One subscriber's filter and destination; ``matches`` decides per alert."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    event_types: tuple[EventType, ...] = EVENT_TYPES
    countries: tuple[str, ...] = ()
    min_severity: Severity = "routine"
    destination: Destination

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == "invalid-records":
            raise ValueError("'invalid-records' is reserved (the file dead letter of undecodable alerts)")
        return value

    @field_validator("countries", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        return tuple(str(v).strip().upper() for v in value) if value is not None else ()

    @field_validator("countries")
    @classmethod
    def _iso_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
        return value

    @field_validator("event_types")
    @classmethod
    def _not_empty(cls, value: tuple[EventType, ...]) -> tuple[EventType, ...]:
        if not value:
            raise ValueError("event_types must not be empty (omit it to receive every type)")
        return value

    def matches(self, alert: Alert) -> bool:
        """True when this subscription wants ``alert``; see :func:`alert_matches`."""
        return alert_matches(
            alert,
            event_types=self.event_types,
            countries=self.countries,
            min_severity=self.min_severity,
        )


def alert_matches(
    alert: Alert,
    *,
    event_types: tuple[str, ...] = EVENT_TYPES,
    countries: tuple[str, ...] = (),
    min_severity: Severity = "routine",
) -> bool:
    """Event type listed, severity at least ``min_severity``, and a country in common (if ``countries``).

    >>> alert_matches(alert, event_types=("coup",), countries=("ML",), min_severity="urgent")
    """
    if alert.event_type not in event_types:
        return False
    if SEVERITY_RANK[alert.severity] < SEVERITY_RANK[min_severity]:
        return False
    return not countries or bool(set(countries) & set(alert.countries))


class _File(_Frozen):
    subscriptions: tuple[Subscription, ...]

    @field_validator("subscriptions")
    @classmethod
    def _unique(cls, value: tuple[Subscription, ...]) -> tuple[Subscription, ...]:
        names = [s.name for s in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate subscription names: {', '.join(dupes)}")
        return value


def _secret_key(name: str) -> str:
    """Secret names match case-insensitively, `-` as `_` (env names cannot hold `-`): Ops-Team == ops_team."""
    return name.lower().replace("-", "_")


def _resolve_secret(
    sub: Subscription, secrets: Mapping[str, SecretStr], base_dir: Path | None
) -> Subscription:
    dest = sub.destination
    if not isinstance(dest, WebhookDestination) or dest.secret is not None:
        return sub
    if dest.secret_ref is not None:
        found = {_secret_key(k): v for k, v in secrets.items()}.get(_secret_key(dest.secret_ref))
        if found is None or not found.get_secret_value():
            raise SecretNotFoundError(
                f"subscription {sub.name!r}: secret_ref {dest.secret_ref!r} is not set "
                f"(NEWSWATCH_NOTIFY__WEBHOOK_SECRETS)"
            )
        secret = found
    else:
        assert dest.secret_file is not None
        path = (
            dest.secret_file
            if dest.secret_file.is_absolute() or base_dir is None
            else base_dir / dest.secret_file
        )
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretNotFoundError(f"subscription {sub.name!r}: cannot read secret_file {path}") from exc
        if not text:
            raise SecretNotFoundError(f"subscription {sub.name!r}: secret_file {path} is empty")
        secret = SecretStr(text)
    resolved = dest.model_copy(update={"secret": secret})
    return sub.model_copy(update={"destination": resolved})


def parse_subscriptions(
    data: Any,
    *,
    secrets: Mapping[str, SecretStr] | None = None,
    base_dir: Path | None = None,
    source: str = "<data>",
) -> tuple[Subscription, ...]:
    """Validate parsed YAML/JSON ``data`` and resolve each webhook's secret.

    >>> parse_subscriptions({"subscriptions": [{"name": "tty", "destination": {"type": "console"}}]})
    """
    if isinstance(data, list):
        data = {"subscriptions": data}
    if not isinstance(data, dict):
        raise SubscriptionConfigError(f"{source}: expected a mapping with a 'subscriptions' list")
    if isinstance(data.get("subscriptions"), list):
        for entry in data["subscriptions"]:
            dest = entry.get("destination") if isinstance(entry, dict) else None
            if isinstance(dest, dict) and "secret" in dest:
                raise SubscriptionConfigError(
                    f"{source}: put webhook secrets in secret_ref or secret_file, never in the file itself"
                )
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SubscriptionConfigError(f"{source}: {where}: {first['msg']}") from exc
    return tuple(_resolve_secret(s, secrets or {}, base_dir) for s in parsed.subscriptions)


def load_subscriptions(
    path: Path, *, secrets: Mapping[str, SecretStr] | None = None
) -> tuple[Subscription, ...]:
    """Read and validate the subscriptions YAML at ``path``; relative ``secret_file`` paths are beside it.

    >>> subs = load_subscriptions(Path("subscriptions.yaml"), secrets=settings.notify.webhook_secrets)
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SubscriptionConfigError(f"cannot read subscriptions file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SubscriptionConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_subscriptions(data, secrets=secrets, base_dir=path.parent, source=str(path))
