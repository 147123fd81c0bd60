"""Configuration: defaults, then the environment, then the mapping given to create_app."""

from __future__ import annotations

import os
import re
import secrets
import urllib.parse
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stdnum import bic, iban

ENVIRONMENTS = ("development", "testing", "production")
RELAXED_ENVIRONMENTS = ("development", "testing")


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says which setting to fix."""


DEFAULTS = {
    "LEDGERFLOW_ENV": "production",
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "REDIS_URL": None,
    # None: service tasks run inside the step when there is no Redis, as RQ jobs after the commit otherwise.
    "SERVICE_TASKS_INLINE": None,
    "BASE_CURRENCY": "USD",
    # Times are stored in UTC and shown in the user's time zone, or this one for users who chose none.
    "DEFAULT_TIME_ZONE": "Europe/Berlin",
    # Who issues the documents (printed on proformas and sent in SAP/UBL files); production requires real ones.
    "SELLER_NAME": "Ledgerflow Demo Services GmbH",
    "SELLER_VAT_ID": "DE999999999",
    "SELLER_STREET": "Musterstraße 1",
    "SELLER_CITY": "Berlin",
    "SELLER_POSTCODE": "10115",
    "SELLER_COUNTRY": "DE",
    "SELLER_EMAIL": "billing@ledgerflow.example",
    # The account proformas ask to be paid into; the demo IBAN is the well-known valid example one.
    "SELLER_IBAN": "DE89370400440532013000",
    "SELLER_BIC": "COBADEFFXXX",
    "SELLER_BANK_NAME": "Demo Bank",
    # The seller's contact on invoices (Peppol's German rules DE-R-005/006 require a name and a telephone).
    "SELLER_CONTACT_NAME": "Accounts receivable",
    "SELLER_PHONE": "",
    # The compiled Peppol BIS Billing 3.0 rules (an XSLT file) to check Peppol invoices with besides EN 16931;
    # empty: EN 16931 only (the OpenPEPPOL rules are not shipped with the product).
    "UBL_PEPPOL_RULES": "",
    "SMTP_URL": None,  # e.g. smtp://user:pass@host:587?starttls=1; `make run` uses a local debugging server
    # Drafting fetches the call-logging data of this many contracts side by side (network waits, not CPU).
    "CALLLOG_FETCH_WORKERS": 8,
    # Official rate files fetched every hour by `flask scheduler`: "ecb=https://...,cbr=https://..."; none by default.
    "RATE_FEEDS": "",
    "PERMANENT_SESSION_LIFETIME": timedelta(minutes=30),
    "SESSION_REFRESH_EACH_REQUEST": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": 3600,
    "LOGIN_STEP_TIMEOUT": timedelta(minutes=5),
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_LOGIN_IP": "20 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "5 per minute;20 per hour",
    "RATELIMIT_TOTP_IP": "20 per minute",
    "RATELIMIT_TOTP_ACCOUNT": "5 per minute;20 per hour",
    "TOTP_ISSUER": "Ledgerflow",
    "PASSWORD_MIN_LENGTH": 10,
    "ADMIN_PAGE_SIZE": 25,
    "FLASK_ADMIN_FLUID_LAYOUT": True,
}

# Who issues the documents; production refuses the demo values.
SELLER_KEYS = ("SELLER_NAME", "SELLER_VAT_ID", "SELLER_STREET", "SELLER_CITY", "SELLER_POSTCODE", "SELLER_COUNTRY",
               "SELLER_EMAIL", "SELLER_IBAN", "SELLER_BIC", "SELLER_BANK_NAME")
# What names the demo company (a real seller may well be in Berlin, 10115, or bank where the demo does): production
# refuses these values. Payments to the demo IBAN would go to someone else's account.
DEMO_SELLER_IDENTITY = ("SELLER_NAME", "SELLER_VAT_ID", "SELLER_EMAIL", "SELLER_IBAN")
# Environment variables read as configuration, by name; DATABASE_URL is handled apart.
ENV_KEYS = ("SECRET_KEY", "ENCRYPTION_KEY", "REDIS_URL", "LEDGERFLOW_ENV", "BASE_CURRENCY", "SMTP_URL",
            *SELLER_KEYS, "SELLER_CONTACT_NAME", "SELLER_PHONE", "UBL_PEPPOL_RULES", "CALLLOG_FETCH_WORKERS",
            "DEFAULT_TIME_ZONE", "RATE_FEEDS")
RATE_FEED_SOURCES = ("ecb", "cbr")


def build_config(instance_path: str, overrides: dict | None) -> dict:
    """Merge defaults, environment and overrides, then check what the environment requires."""
    config = dict(DEFAULTS)
    config.update({key: os.environ[key] for key in ENV_KEYS if os.environ.get(key)})
    config["SQLALCHEMY_DATABASE_URI"] = database_url(os.environ.get("DATABASE_URL"), instance_path)
    config.update(overrides or {})
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    check_environment(config)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = development_secret_key(instance_path)
    if config["LEDGERFLOW_ENV"] != "production":
        config["SESSION_COOKIE_SECURE"] = False
    config.setdefault("RATELIMIT_STORAGE_URI", config["REDIS_URL"] or "memory://")
    return config


def database_url(url: str | None, instance_path: str) -> str:
    """DATABASE_URL, or a SQLite file in the instance folder when nothing is configured."""
    if url:
        return url
    return f"sqlite:///{Path(instance_path) / 'ledgerflow.db'}"


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_environment(config: dict) -> None:
    """Refuse to run outside development and testing without a real SECRET_KEY; check the numbers."""
    env = config["LEDGERFLOW_ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"LEDGERFLOW_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    config["CALLLOG_FETCH_WORKERS"] = _whole_number(config, "CALLLOG_FETCH_WORKERS", 1, 64)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(config.get("SELLER_EMAIL", ""))):
        raise ConfigError(f"SELLER_EMAIL must be an e-mail address, not {config.get('SELLER_EMAIL')!r}")
    if not re.fullmatch(r"[A-Z]{2}", str(config.get("SELLER_COUNTRY", ""))):
        raise ConfigError(f"SELLER_COUNTRY must be a two-letter code such as DE, not {config.get('SELLER_COUNTRY')!r}")
    check_seller_account(config)
    check_time_zone(config)
    config["RATE_FEEDS"] = rate_feeds(config.get("RATE_FEEDS"), https_only=env not in RELAXED_ENVIRONMENTS)
    if env not in RELAXED_ENVIRONMENTS and not config.get("SECRET_KEY"):
        raise ConfigError(
            "SECRET_KEY is not set. Set it in the environment (for example "
            "`export SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')`) "
            "or set LEDGERFLOW_ENV=development for a local run."
        )
    if env not in RELAXED_ENVIRONMENTS:
        demo = [name for name in DEMO_SELLER_IDENTITY if config.get(name) == DEFAULTS[name]]
        if demo:
            raise ConfigError(f"the demo company's values are still set for {', '.join(demo)}; production documents "
                              "name the real seller: set them in the environment.")


def rate_feeds(value, *, https_only: bool) -> dict[str, str]:
    """RATE_FEEDS ("ecb=https://...,cbr=https://...") as source -> URL; plain HTTP only in development and tests."""
    if isinstance(value, dict):
        entries = list(value.items())
    else:
        entries = [entry.partition("=")[::2] for entry in str(value or "").split(",") if entry.strip()]
    feeds = {}
    for source, url in entries:
        source, url = source.strip(), url.strip()
        if source not in RATE_FEED_SOURCES:
            raise ConfigError(f"RATE_FEEDS: {source!r} is not one of {', '.join(RATE_FEED_SOURCES)} (write ecb=URL)")
        parts = urllib.parse.urlsplit(url)
        schemes = ("https",) if https_only else ("https", "http")
        if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
            raise ConfigError(f"RATE_FEEDS: the {source} URL must be {' or '.join(schemes)} with a host and no "
                              f"credentials, not {url!r}")
        feeds[source] = url
    return feeds


def check_seller_account(config: dict) -> None:
    """Check the seller's bank account (IBAN and BIC checksums and formats, a bank name) and keep them compact."""
    for name, number in (("SELLER_IBAN", iban), ("SELLER_BIC", bic)):
        value = str(config.get(name) or "")
        try:
            config[name] = number.validate(value)  # compact: no spaces, upper case
        except ValueError as exc:  # stdnum's ValidationError says what is wrong (checksum, length, format)
            raise ConfigError(f"{name} is not valid ({exc}): {value!r}") from None
    if not str(config.get("SELLER_BANK_NAME") or "").strip():
        raise ConfigError("SELLER_BANK_NAME must name the seller's bank")


def check_time_zone(config: dict) -> None:
    """DEFAULT_TIME_ZONE must be an IANA time zone name this machine knows, e.g. Europe/Berlin."""
    name = str(config.get("DEFAULT_TIME_ZONE") or "")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"DEFAULT_TIME_ZONE must be a time zone name such as Europe/Berlin, not {name!r}") from None


def _whole_number(config: dict, name: str, low: int, high: int) -> int:
    value = str(config.get(name, "")).strip()
    number = int(value) if re.fullmatch(r"[0-9]{1,4}", value) else None
    if number is None or not low <= number <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return number


def development_secret_key(instance_path: str) -> str:
    """A random key kept in the instance folder, so sessions and encrypted fields survive restarts."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
