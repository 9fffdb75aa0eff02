"""Configuration: read from the environment once at start-up and validated there.

Every process calls `load_settings()` in its entry point; a bad value raises
`ConfigError` whose message names the variable, and the CLI prints that one line and
exits non-zero, so nothing fails later inside a request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlparse, urlsplit

from .auth import Tokens

DEFAULT_RETRY_DELAYS = (60, 300, 900)


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


# Never shown: the settings' repr (logs, tracebacks) masks them.
SECRET_FIELDS = frozenset(
    {
        "mp_access_token",
        "mp_webhook_secrets",
        "ghl_api_token",
        "api_tokens",
        "api_read_tokens",
        "redis_password",
        "console_session_secret",
    }
)


def url_without_credentials(url: str) -> str:
    """The URL as it may be shown or used next to separate credentials: no user, no password."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


@dataclass(frozen=True, repr=False)
class Settings:
    redis_url: str = "redis://localhost:6379/0"
    redis_username: str | None = None
    redis_password: str | None = None
    redis_ca_cert_path: str | None = None
    receiver_docs_enabled: bool = False
    key_prefix: str = "mpwh"
    mp_access_token: str | None = None
    mp_webhook_secrets: tuple[str, ...] = ()
    mp_allow_unsigned: bool = False
    mp_signature_tolerance_seconds: int = 0
    mp_accept_ipn: bool = True
    mp_api_base_url: str = "https://api.mercadopago.com"
    ghl_api_base_url: str = "https://services.leadconnectorhq.com"
    ghl_api_token: str | None = None
    ghl_location_id: str | None = None
    ghl_api_version: str = "2021-07-28"
    ghl_status_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ghl_rate_limit_requests: int = 100
    ghl_rate_limit_window_seconds: float = 10.0
    retry_delays: tuple[int, ...] = DEFAULT_RETRY_DELAYS
    job_timeout_seconds: int = 120
    api_tokens: tuple[str, ...] = ()
    api_read_tokens: tuple[str, ...] = ()
    log_level: str = "INFO"
    metrics_port: int = 9100
    scheduler_interval_seconds: float = 5.0
    retention_success_days: float = 30.0
    retention_failed_days: float = 90.0
    breaker_failures: int = 5
    breaker_probe_seconds: float = 30.0
    reconcile_sweep_enabled: bool = False
    reconcile_sweep_window_minutes: float = 60.0
    reconcile_sweep_page_size: int = 50
    reconcile_interval_seconds: float = 60.0
    pushgateway_url: str | None = None
    worker_pod_selector: str | None = None
    pod_name: str | None = None
    pod_namespace: str | None = None
    # The console's session cookie: signed with this secret (every console pod shares it),
    # valid this long, and Secure (sent over HTTPS only) when the console is behind TLS.
    console_session_secret: str | None = None
    console_session_seconds: int = 8 * 3600
    console_secure_cookie: bool = False

    def __repr__(self) -> str:
        def shown(name: str) -> str:
            value = getattr(self, name)
            if name == "redis_url" and value != url_without_credentials(value):
                return repr(url_without_credentials(value) + " (credentials hidden)")
            return "'***'" if name in SECRET_FIELDS and value else repr(value)

        return f"Settings({', '.join(f'{item.name}={shown(item.name)}' for item in fields(self))})"

    @property
    def tokens(self) -> Tokens:
        return Tokens(self.api_tokens, self.api_read_tokens)

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.retry_delays)

    def tags_for_status(self, status: str) -> tuple[str, ...]:
        if status in self.ghl_status_tags:
            return self.ghl_status_tags[status]
        return (f"mp-payment-{status}",)

    def require(self, *names: str) -> None:
        """Fail start-up when a component needs a variable that is not set."""
        for name in names:
            if not getattr(self, _ATTRIBUTE_OF[name]):
                raise ConfigError(f"{name}: required by this component but not set")


_ATTRIBUTE_OF = {
    "MP_ACCESS_TOKEN": "mp_access_token",
    "GHL_API_TOKEN": "ghl_api_token",
    "GHL_LOCATION_ID": "ghl_location_id",
    "MP_WEBHOOK_SECRET": "mp_webhook_secrets",
    "CONSOLE_SESSION_SECRET": "console_session_secret",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


class _Reader:
    """Parses one variable at a time so every error names its variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str) -> str | None:
        return self.raw(name)

    def items(self, name: str) -> tuple[str, ...]:
        """A comma-separated list (several secrets or tokens at once, for rotation)."""
        return tuple(item.strip() for item in (self.raw(name) or "").split(",") if item.strip())

    def existing_file(self, name: str) -> str | None:
        value = self.raw(name)
        if value is not None and not Path(value).is_file():
            raise ConfigError(f"{name}: no such file {value!r}")
        return value

    def text_or(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ConfigError(f"{name}: expected true or false, got {value!r}")

    def number(self, name: str, default: float, *, minimum: float = 0, integer: bool = False) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            parsed = int(value) if integer else float(value)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise ConfigError(f"{name}: expected {kind}, got {value!r}") from None
        if parsed < minimum:
            raise ConfigError(f"{name}: must be >= {minimum}, got {value!r}")
        return parsed

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        """An empty default makes the variable optional: unset, it reads as ""."""
        value = self.text_or(name, default)
        if not value:
            return value
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not parsed.netloc:
            shown = url_without_credentials(value)
            raise ConfigError(f"{name}: expected a {'/'.join(schemes)} URL, got {shown!r}")
        return value.rstrip("/")


def _parse_delays(reader: _Reader) -> tuple[int, ...]:
    value = reader.raw("RETRY_DELAYS")
    if value is None:
        return DEFAULT_RETRY_DELAYS
    if value.lower() == "none":
        return ()
    try:
        delays = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"RETRY_DELAYS: expected comma-separated seconds, got {value!r}") from None
    if any(delay < 0 for delay in delays):
        raise ConfigError(f"RETRY_DELAYS: delays must be >= 0, got {value!r}")
    return delays


def _parse_status_tags(reader: _Reader) -> dict[str, tuple[str, ...]]:
    value = reader.raw("GHL_STATUS_TAGS")
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise ConfigError(f"GHL_STATUS_TAGS: not valid JSON ({error.msg})") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(tags, list) and all(isinstance(tag, str) and tag for tag in tags) for tags in parsed.values()
    ):
        raise ConfigError(
            'GHL_STATUS_TAGS: expected a JSON object of status -> list of tags, e.g. {"approved": ["paid"]}'
        )
    return {status: tuple(tags) for status, tags in parsed.items()}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    reader = _Reader(os.environ if env is None else env)
    prefix = reader.text_or("MPWH_KEY_PREFIX", "mpwh")
    if not prefix.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ConfigError(f"MPWH_KEY_PREFIX: letters, digits, '-', '_' and '.' only, got {prefix!r}")
    log_level = reader.text_or("LOG_LEVEL", "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: expected one of {', '.join(sorted(_LOG_LEVELS))}, got {log_level!r}")
    access_token = reader.text("MP_ACCESS_TOKEN")
    return Settings(
        redis_url=reader.url("REDIS_URL", "redis://localhost:6379/0", ("redis", "rediss", "unix")),
        redis_username=reader.text("REDIS_USERNAME"),
        redis_password=reader.raw("REDIS_PASSWORD"),
        redis_ca_cert_path=reader.existing_file("REDIS_CA_CERT_PATH"),
        receiver_docs_enabled=reader.boolean("RECEIVER_DOCS_ENABLED", False),
        key_prefix=prefix,
        mp_access_token=access_token,
        mp_webhook_secrets=reader.items("MP_WEBHOOK_SECRET"),
        mp_allow_unsigned=reader.boolean("MP_ALLOW_UNSIGNED", False),
        mp_signature_tolerance_seconds=int(reader.number("MP_SIGNATURE_TOLERANCE_SECONDS", 0, integer=True)),
        mp_accept_ipn=reader.boolean("MP_ACCEPT_IPN", True),
        mp_api_base_url=reader.url("MP_API_BASE_URL", "https://api.mercadopago.com", ("http", "https")),
        ghl_api_base_url=reader.url("GHL_API_BASE_URL", "https://services.leadconnectorhq.com", ("http", "https")),
        ghl_api_token=reader.text("GHL_API_TOKEN"),
        ghl_location_id=reader.text("GHL_LOCATION_ID"),
        ghl_api_version=reader.text_or("GHL_API_VERSION", "2021-07-28"),
        ghl_status_tags=_parse_status_tags(reader),
        ghl_rate_limit_requests=int(reader.number("GHL_RATE_LIMIT_REQUESTS", 100, minimum=1, integer=True)),
        ghl_rate_limit_window_seconds=reader.number("GHL_RATE_LIMIT_WINDOW_SECONDS", 10.0, minimum=0.001),
        retry_delays=_parse_delays(reader),
        job_timeout_seconds=int(reader.number("JOB_TIMEOUT_SECONDS", 120, minimum=1, integer=True)),
        api_tokens=reader.items("API_TOKEN"),
        api_read_tokens=reader.items("API_READ_TOKEN"),
        log_level=log_level,
        metrics_port=int(reader.number("METRICS_PORT", 9100, minimum=1, integer=True)),
        scheduler_interval_seconds=reader.number("SCHEDULER_INTERVAL_SECONDS", 5.0, minimum=0.1),
        retention_success_days=reader.number("RETENTION_SUCCESS_DAYS", 30.0),
        retention_failed_days=reader.number("RETENTION_FAILED_DAYS", 90.0),
        breaker_failures=int(reader.number("BREAKER_FAILURES", 5, minimum=1, integer=True)),
        breaker_probe_seconds=reader.number("BREAKER_PROBE_SECONDS", 30.0, minimum=0.1),
        reconcile_sweep_enabled=reader.boolean("RECONCILE_SWEEP_ENABLED", access_token is not None),
        reconcile_sweep_window_minutes=reader.number("RECONCILE_SWEEP_WINDOW_MINUTES", 60.0, minimum=1),
        reconcile_sweep_page_size=int(reader.number("RECONCILE_SWEEP_PAGE_SIZE", 50, minimum=1, integer=True)),
        reconcile_interval_seconds=reader.number("RECONCILE_INTERVAL_SECONDS", 60.0, minimum=1),
        pushgateway_url=reader.url("PUSHGATEWAY_URL", "", ("http", "https")) or None,
        worker_pod_selector=reader.text("WORKER_POD_SELECTOR"),
        pod_name=reader.text("POD_NAME"),
        pod_namespace=reader.text("POD_NAMESPACE"),
        console_session_secret=reader.text("CONSOLE_SESSION_SECRET"),
        console_session_seconds=int(reader.number("CONSOLE_SESSION_SECONDS", 8 * 3600, minimum=60, integer=True)),
        console_secure_cookie=reader.boolean("CONSOLE_SECURE_COOKIE", False),
    )
