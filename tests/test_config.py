"""Configuration: secure by default, embedded defaults, URL handling."""

from __future__ import annotations

import pytest

from portal import create_app
from portal.config import SELLER_KEYS, ConfigError, build_config, normalise_database_url


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL", "LEDGERFLOW_ENV", *SELLER_KEYS,
                 "CALLLOG_FETCH_WORKERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.no_db
def test_production_refuses_to_start_without_secret_key(clean_env, tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        build_config(str(tmp_path), {"LEDGERFLOW_ENV": "production"})


@pytest.mark.no_db
def test_production_is_the_default_environment(clean_env, tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


REAL_SELLER = {"SELLER_NAME": "Real Services AG", "SELLER_VAT_ID": "DE123456789", "SELLER_STREET": "Hauptstraße 5",
               "SELLER_CITY": "Köln", "SELLER_POSTCODE": "50667", "SELLER_COUNTRY": "DE",
               "SELLER_EMAIL": "billing@real.example", "SELLER_IBAN": "GB82WEST12345698765432",
               "SELLER_BIC": "NWBKGB2L", "SELLER_BANK_NAME": "Real Bank plc"}


@pytest.mark.no_db
def test_production_with_secret_key_uses_secure_cookies(clean_env, tmp_path):
    config = build_config(str(tmp_path), {"LEDGERFLOW_ENV": "production", "SECRET_KEY": "x" * 40, **REAL_SELLER})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True


@pytest.mark.no_db
def test_development_keeps_a_generated_key_across_restarts(clean_env, tmp_path):
    first = build_config(str(tmp_path), {"LEDGERFLOW_ENV": "development"})["SECRET_KEY"]
    second = build_config(str(tmp_path), {"LEDGERFLOW_ENV": "development"})["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.no_db
def test_embedded_defaults_sqlite_file_and_no_redis(clean_env, tmp_path):
    config = build_config(str(tmp_path), {"LEDGERFLOW_ENV": "development"})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/ledgerflow.db"
    assert config["REDIS_URL"] is None
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.no_db
def test_environment_switches_to_postgres_and_redis(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/ledger")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    config = build_config(str(tmp_path), {"LEDGERFLOW_ENV": "development"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/ledger"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"


@pytest.mark.no_db
def test_unknown_environment_is_named(clean_env, tmp_path):
    with pytest.raises(ConfigError, match="LEDGERFLOW_ENV"):
        build_config(str(tmp_path), {"LEDGERFLOW_ENV": "staging"})


@pytest.mark.no_db
@pytest.mark.parametrize("url", ["postgres://a@b/c", "postgresql://a@b/c"])
def test_postgres_urls_use_psycopg3(url):
    assert normalise_database_url(url) == "postgresql+psycopg://a@b/c"


@pytest.mark.no_db
def test_two_apps_in_one_process_each_get_their_own_admin(clean_env):
    from tests.support.app import app_config

    first, second = create_app(app_config()), create_app(app_config())
    assert first.extensions["admin"][0] is not second.extensions["admin"][0]
    assert "customers.index_view" in second.view_functions


@pytest.mark.no_db
def test_seller_and_fetch_workers_come_from_the_environment(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SELLER_NAME", "Real Seller AG")
    monkeypatch.setenv("CALLLOG_FETCH_WORKERS", "16")
    config = build_config(str(tmp_path), {"LEDGERFLOW_ENV": "development"})
    assert (config["SELLER_NAME"], config["CALLLOG_FETCH_WORKERS"]) == ("Real Seller AG", 16)


@pytest.mark.no_db
@pytest.mark.parametrize(("name", "value"), [
    ("CALLLOG_FETCH_WORKERS", "0"), ("CALLLOG_FETCH_WORKERS", "many"), ("CALLLOG_FETCH_WORKERS", "100"),
    ("CALLLOG_FETCH_WORKERS", "\u00b2"), ("CALLLOG_FETCH_WORKERS", "1_6"), ("CALLLOG_FETCH_WORKERS", "+8"),
    ("SELLER_EMAIL", "billing"), ("SELLER_COUNTRY", "Germany"),
    ("SELLER_IBAN", "DE89370400440532013001"), ("SELLER_IBAN", "DE89 3704 0044"), ("SELLER_IBAN", "no account"),
    ("SELLER_BIC", "COBADE"), ("SELLER_BIC", "C0BADEFF"), ("SELLER_BANK_NAME", "  "),
])
def test_a_bad_setting_is_named(clean_env, monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        build_config(str(tmp_path), {"LEDGERFLOW_ENV": "development"})


@pytest.mark.no_db
def test_production_refuses_the_demo_seller_and_names_what_is_left(clean_env, tmp_path):
    settings = {"LEDGERFLOW_ENV": "production", "SECRET_KEY": "x" * 40, **REAL_SELLER}
    del settings["SELLER_NAME"], settings["SELLER_VAT_ID"]
    with pytest.raises(ConfigError, match="demo company's values are still set for SELLER_NAME, SELLER_VAT_ID;"):
        build_config(str(tmp_path), settings)


@pytest.mark.no_db
def test_the_demo_bank_account_is_valid_and_kept_compact(clean_env, monkeypatch, tmp_path):
    config = build_config(str(tmp_path), {"LEDGERFLOW_ENV": "development"})
    assert (config["SELLER_IBAN"], config["SELLER_BIC"]) == ("DE89370400440532013000", "COBADEFFXXX")
    monkeypatch.setenv("SELLER_IBAN", "gb82 west 1234 5698 7654 32")
    monkeypatch.setenv("SELLER_BIC", "nwbkgb2l")
    config = build_config(str(tmp_path), {"LEDGERFLOW_ENV": "development"})
    assert (config["SELLER_IBAN"], config["SELLER_BIC"]) == ("GB82WEST12345698765432", "NWBKGB2L")


@pytest.mark.no_db
def test_production_refuses_the_demo_iban_even_written_with_spaces(clean_env, tmp_path):
    settings = {"LEDGERFLOW_ENV": "production", "SECRET_KEY": "x" * 40, **REAL_SELLER,
                "SELLER_IBAN": "DE89 3704 0044 0532 0130 00"}
    with pytest.raises(ConfigError, match="demo company's values are still set for SELLER_IBAN;"):
        build_config(str(tmp_path), settings)


@pytest.mark.no_db
def test_production_accepts_a_real_seller_in_the_demo_city(clean_env, tmp_path):
    settings = {"LEDGERFLOW_ENV": "production", "SECRET_KEY": "x" * 40, **REAL_SELLER, "SELLER_CITY": "Berlin",
                "SELLER_POSTCODE": "10115", "SELLER_STREET": "Musterstraße 1", "SELLER_BIC": "COBADEFFXXX",
                "SELLER_BANK_NAME": "Demo Bank"}  # the demo's bank is a real bank: only its IBAN is the demo's
    assert build_config(str(tmp_path), settings)["SELLER_CITY"] == "Berlin"
