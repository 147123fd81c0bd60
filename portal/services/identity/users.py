"""User and role administration: create users, assign roles, reset second factors."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.errors import NotFound, ValidationError
from portal.extensions import db
from portal.models import Customer, Role, User
from portal.models.user import CUSTOMER, ROLE_CATALOG
from portal.services.identity import auth


def ensure_roles() -> list[Role]:
    """Create any missing role from the catalog (idempotent) and return all roles."""
    existing = {role.code: role for role in db.session.scalars(select(Role))}
    for code, (name, description) in ROLE_CATALOG.items():
        if code not in existing:
            existing[code] = Role(code=code, name=name, description=description)
            db.session.add(existing[code])
    db.session.flush()
    return list(existing.values())


def normalise_email(email: str) -> str:
    """Validate the address's syntax and return it lower-cased."""
    try:
        return validate_email(email or "", check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError("email", str(exc)) from exc


def roles_by_code(codes) -> list[Role]:
    codes = [c.strip() for c in codes if c and c.strip()]
    if not codes:
        raise ValidationError("role", "give at least one role")
    roles = {r.code: r for r in db.session.scalars(select(Role).where(Role.code.in_(codes)))}
    unknown = sorted(set(codes) - set(roles))
    if unknown:
        raise ValidationError("role", f"unknown role {', '.join(unknown)}; known: {', '.join(ROLE_CATALOG)}")
    return [roles[c] for c in dict.fromkeys(codes)]


def create_user(
    email: str,
    password: str,
    role_codes,
    *,
    name: str = "",
    customer_code: str | None = None,
    password_min_length: int = 10,
    with_authenticator: bool = True,
) -> User:
    """Create a user with roles; with_authenticator gives it a TOTP secret to provision at once."""
    email = normalise_email(email)
    if auth.find_user(email) is not None:
        raise ValidationError("email", f"{email} is already registered")
    user = User(email=email, name=name or email.split("@")[0], active=True)
    user.password_hash = auth.hash_password(password, password_min_length)
    user.roles = roles_by_code(role_codes)
    user.customer = _customer_for(customer_code)
    check_user(user)
    db.session.add(user)
    db.session.flush()
    if with_authenticator:
        # Unconfirmed until the first valid code; sign-in shows this same secret to enroll.
        auth.start_enrollment(user)
    return user


def check_user(user: User) -> None:
    """Customer users belong to exactly one customer; staff users to none."""
    if re.search(r"\s", user.email or ""):
        raise ValidationError("email", "must not contain spaces")
    codes = {r.code for r in user.roles}
    if CUSTOMER in codes and user.customer is None and user.customer_id is None:
        raise ValidationError("customer", "a user with the customer role must belong to a customer")
    if CUSTOMER in codes and len(codes) > 1:
        raise ValidationError("roles", "the customer role cannot be combined with staff roles")
    if CUSTOMER not in codes and (user.customer is not None or user.customer_id is not None):
        raise ValidationError("customer", "only users with the customer role belong to a customer")


def get_user(email: str) -> User:
    user = auth.find_user(email)
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


def reset_second_factor(email: str) -> User:
    """Remove the user's authenticator; the next sign-in enrolls a new one."""
    user = get_user(email)
    auth.reset_second_factor(user)
    return user


def _customer_for(code: str | None) -> Customer | None:
    if not code:
        return None
    customer = db.session.scalar(select(Customer).where(Customer.code == code))
    if customer is None:
        raise ValidationError("customer", f"no customer with code {code}")
    return customer


def signed_in(user_id: str) -> User | None:
    """The user of a session, with their roles, in one query per request; a deactivated user's session stops
    working at its next request."""
    user = db.session.get(User, int(user_id), options=[joinedload(User.roles)])
    return user if user is not None and user.is_active else None
