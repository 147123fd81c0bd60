"""Sign-in use cases: password check, TOTP enrollment and verification with replay protection."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal.errors import AuthenticationError, ValidationError
from portal.extensions import db
from portal.models import AuditEvent, User
from portal.models.types import utcnow

# Checked against when the e-mail is unknown, so timing does not reveal which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
_WRONG_CREDENTIALS = "Unknown e-mail or wrong password"


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
        raise AuthenticationError(_WRONG_CREDENTIALS, "unknown e-mail" if user is None else "no password set")
    if not check_password_hash(user.password_hash, password or ""):
        raise AuthenticationError(_WRONG_CREDENTIALS, "wrong password")
    if not user.is_active:
        raise AuthenticationError(_WRONG_CREDENTIALS, "account deactivated")
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


# How the second step was passed, as the audit trail names it.
SECOND_FACTORS = {"code": "authenticator code", "enrollment": "new authenticator", "none": "password only"}
SIGNED_IN, REFUSED = "sign_in", "refused"


def record_login(user: User, second_factor: str, ip: str, now: datetime | None = None) -> None:
    """Note a completed sign-in on the user and in the audit trail: who, when, from where, which second step."""
    when = now or utcnow()
    user.last_login_at = when
    _audit_sign_in(SIGNED_IN, user.email, user, ip, when, f"Signed in with {SECOND_FACTORS[second_factor]}",
                   {"outcome": "signed in", "second_factor": second_factor})


def record_refusal(email: str, user: User | None, step: str, reason: str, ip: str,
                   now: datetime | None = None) -> None:
    """Note a refused sign-in attempt (wrong password, unknown e-mail, bad code) in the audit trail."""
    _audit_sign_in(REFUSED, (email or "").strip()[:254] or "(no e-mail)", user, ip, now or utcnow(),
                   f"Sign-in refused at the {step}: {reason}", {"outcome": "refused", "step": step, "reason": reason})


def _audit_sign_in(action: str, actor: str, user: User | None, ip: str, when: datetime, summary: str,
                   changes: dict) -> None:
    db.session.add(AuditEvent(occurred_at=when, actor=actor, actor_id=user.id if user else None, ip=ip[:64],
                              action=action, entity_type="User", entity_id=str(user.id) if user else "",
                              summary=summary[:300], changes=changes))
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
