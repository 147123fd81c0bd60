"""Flask extensions, created unbound here and bound to an app in create_app."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, except that a bind given to the session itself wins over the app's engines."""

    # Flask-SQLAlchemy 3 picks an engine by bind key and ignores Session(bind=...); the tests bind every session
    # to one connection whose outer transaction they roll back (SQLAlchemy's "join an external transaction").
    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return super().get_bind(mapper, clause, bind=self.bind if bind is None else bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


def on_postgresql() -> bool:
    """Whether the current session talks to PostgreSQL (else SQLite), for the few statements that differ."""
    return db.session.get_bind().dialect.name == "postgresql"


class Vault:
    """Encrypts sensitive fields at rest (Fernet); keys come from ENCRYPTION_KEY or SECRET_KEY."""

    def init_app(self, app) -> None:
        keys = app.config.get("ENCRYPTION_KEY") or app.config["SECRET_KEY"]
        # Several comma-separated keys allow rotation: the first encrypts, all decrypt.
        fernets = [Fernet(_fernet_key(key)) for key in str(keys).split(",") if key.strip()]
        app.extensions["vault"] = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet().encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet().decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError("cannot decrypt a stored secret: was ENCRYPTION_KEY/SECRET_KEY changed?") from exc

    @staticmethod
    def _fernet() -> MultiFernet:
        return current_app.extensions["vault"]


def _fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.strip().encode()).digest())


vault = Vault()
