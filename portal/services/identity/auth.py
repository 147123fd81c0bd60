"""Sign-in use cases: password check, TOTP enrollment and verification with replay protection."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal.errors import AuthenticationError, ValidationError
from portal.extensions import db
from portal.models import User
from portal.models.types import utcnow

# Checked against when the e-mail is unknown, so timing does not reveal which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str, min_length: int) -> str:
    """Hash a new password after checking the policy."""
    if len(password or "") < min_length:
        raise ValidationError("password", f"must be at least {min_length} characters long")
    return generate_password_hash(password)


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))


def authenticate(email: str, password: str) -> User:
    """The active user with this e-mail and password, or AuthenticationError."""
    user = find_user(email)
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")
        raise AuthenticationError("Unknown e-mail or wrong password")
    if not check_password_hash(user.password_hash, password or "") or not user.is_active:
        raise AuthenticationError("Unknown e-mail or wrong password")
    return user


def needs_second_factor(user: User) -> bool:
    """Staff always need TOTP; customer users only once they have enrolled."""
    return user.is_staff or user.has_second_factor


def start_enrollment(user: User) -> str:
    """Give the user a fresh, unconfirmed TOTP secret (kept until confirmed) and return it."""
    if user.totp_secret is None or user.has_second_factor:
        user.totp_secret = pyotp.random_base32()
        user.totp_confirmed_at = None
        user.totp_last_step = None
        db.session.flush()
    return user.totp_secret


def provisioning_uri(user: User, issuer: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


def confirm_enrollment(user: User, code: str, now: datetime | None = None) -> None:
    """The first valid code confirms the secret."""
    if user.totp_secret is None:
        raise ValidationError("code", "start enrollment first")
    _consume_code(user, code, now)
    user.totp_confirmed_at = now or utcnow()
    db.session.flush()


def verify_second_factor(user: User, code: str, now: datetime | None = None) -> None:
    """Accept a current code once; a code already used (or older) is refused."""
    if not user.has_second_factor:
        raise AuthenticationError("no authenticator is enrolled for this account")
    _consume_code(user, code, now)


def reset_second_factor(user: User) -> None:
    """Forget the user's authenticator: the next sign-in goes through enrollment again."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    db.session.flush()


def record_login(user: User, now: datetime | None = None) -> None:
    user.last_login_at = now or utcnow()
    db.session.flush()


def _consume_code(user: User, code: str, now: datetime | None) -> None:
    step = matching_step(user.totp_secret, code, now or utcnow())
    if step is None:
        raise AuthenticationError("That code is not valid. Check your device's clock and try again.")
    # Conditional update: of two concurrent requests with the same code, only one wins.
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise AuthenticationError("That code was already used. Wait for the next one.")
    db.session.refresh(user, ["totp_last_step"])


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The RFC 6238 time step whose code equals `code`, allowing one step of clock drift."""
    code = (code or "").replace(" ", "").strip()
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        moment = now + timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(moment), code):
            return totp.timecode(moment)
    return None
