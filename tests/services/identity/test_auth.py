"""Sign-in: password, TOTP enrollment and codes, replay, rate limits, sessions, CSRF."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select, text

from portal.errors import AuthenticationError, ValidationError
from portal.extensions import db
from portal.models import AuditEvent
from portal.models.types import utcnow
from portal.services.identity import auth
from tests.support.factories import PASSWORD
from tests.support.web import csrf_from, page_csrf

SECRET = pyotp.random_base32()


def submit_password(client, email, password=PASSWORD, next_url=""):
    token = page_csrf(client, "/login")
    return client.post(f"/login{next_url}", data={"email": email, "password": password, "csrf_token": token})


def submit_code(client, url, code):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"code": code, "csrf_token": token})


def test_staff_with_authenticator_signs_in_with_password_then_code(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    response = submit_password(client, user.email)
    assert response.status_code == 302 and response.location.endswith("/login/code")
    assert client.get("/dashboard").status_code == 302  # not signed in before the code
    response = submit_code(client, "/login/code", pyotp.TOTP(SECRET).now())
    assert response.status_code == 302 and response.location.endswith("/")
    assert client.get("/dashboard").status_code == 200
    db.session.refresh(user)
    assert user.last_login_at is not None


def test_wrong_password_is_refused_without_saying_which_part(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    response = submit_password(client, user.email, "not the password")
    assert response.status_code == 401
    assert b"Unknown e-mail or wrong password" in response.data
    unknown = submit_password(client, "nobody@staff.example", "whatever-password")
    assert unknown.status_code == 401 and b"Unknown e-mail or wrong password" in unknown.data


def test_inactive_user_cannot_sign_in(client, make_user):
    user = make_user("accountant", totp_secret=SECRET, active=False)
    assert submit_password(client, user.email).status_code == 401


def test_wrong_code_is_refused(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    submit_password(client, user.email)
    good = pyotp.TOTP(SECRET).now()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = submit_code(client, "/login/code", wrong)
    assert response.status_code == 401
    assert client.get("/dashboard").status_code == 302


def test_a_used_code_cannot_be_used_again(app, make_user):
    user = make_user("approver", totp_secret=SECRET)
    code = pyotp.TOTP(SECRET).now()
    first, second = app.test_client(), app.test_client()
    submit_password(first, user.email)
    assert submit_code(first, "/login/code", code).status_code == 302
    submit_password(second, user.email)
    response = submit_code(second, "/login/code", code)
    assert response.status_code == 401
    assert b"already used" in response.data


def test_staff_without_second_factor_enrolls_with_qr_code(client, make_user):
    user = make_user("reviewer")
    response = submit_password(client, user.email)
    assert response.location.endswith("/login/enroll")
    page = client.get("/login/enroll").get_data(as_text=True)
    assert "<svg" in page and 'id="totp-qr"' in page
    db.session.refresh(user)
    secret = user.totp_secret
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    assert user.totp_confirmed_at is None
    response = submit_code(client, "/login/enroll", pyotp.TOTP(secret).now())
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.totp_confirmed_at is not None
    assert client.get("/dashboard").status_code == 200


def test_enrollment_keeps_the_same_secret_until_confirmed(client, make_user):
    user = make_user("reviewer")
    submit_password(client, user.email)
    client.get("/login/enroll")
    db.session.refresh(user)
    first = user.totp_secret
    client.get("/login/enroll")
    db.session.refresh(user)
    assert user.totp_secret == first


def test_enrollment_refuses_a_wrong_code(client, make_user):
    user = make_user("reviewer")
    submit_password(client, user.email)
    client.get("/login/enroll")
    response = submit_code(client, "/login/enroll", "000000")
    assert response.status_code == 401
    db.session.refresh(user)
    assert user.totp_confirmed_at is None


def test_customer_without_authenticator_signs_in_with_password(client, make_user):
    user = make_user("customer")
    response = submit_password(client, user.email)
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 200


def test_the_second_step_expires(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    submit_password(client, user.email)
    with client.session_transaction() as session:
        session["pending_login"]["at"] = (utcnow() - timedelta(minutes=10)).isoformat()
        session.modified = True
    response = client.get("/login/code")
    assert response.status_code == 302 and response.location.endswith("/login")


def test_next_parameter_only_allows_local_paths(client, make_user):
    user = make_user("admin", totp_secret=SECRET)
    submit_password(client, user.email, next_url="?next=//evil.example/x")
    response = submit_code(client, "/login/code", pyotp.TOTP(SECRET).now())
    assert response.location == "/"


def test_next_parameter_returns_to_the_page_asked_for(client, make_user):
    user = make_user("admin", totp_secret=SECRET)
    submit_password(client, user.email, next_url="?next=/admin/customers/")
    response = submit_code(client, "/login/code", pyotp.TOTP(SECRET).now())
    assert response.location == "/admin/customers/"


def test_login_without_csrf_token_is_rejected(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400


def test_password_attempts_are_limited_per_account(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    statuses = [submit_password(client, user.email, "wrong-password").status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    # the limit is on the account: even the right password is refused for now
    assert submit_password(client, user.email).status_code == 429


def test_password_attempts_are_limited_per_ip(client):
    statuses = [submit_password(client, f"user{i}@staff.example", "wrong-password").status_code for i in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429


def test_code_attempts_are_limited_per_account(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    submit_password(client, user.email)
    statuses = [submit_code(client, "/login/code", "000000").status_code for _ in range(6)]
    assert statuses[5] == 429


def test_session_cookie_is_httponly_samesite_and_expires(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    submit_password(client, user.email)
    response = submit_code(client, "/login/code", pyotp.TOTP(SECRET).now())
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_sign_out_needs_post_with_csrf(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    submit_password(client, user.email)
    submit_code(client, "/login/code", pyotp.TOTP(SECRET).now())
    assert client.post("/logout").status_code == 400
    assert client.get("/dashboard").status_code == 200
    token = csrf_from(client.get("/dashboard").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/dashboard").status_code == 302


def test_secrets_are_encrypted_and_passwords_hashed_at_rest(make_user):
    user = make_user("accountant", totp_secret=SECRET)
    raw = db.session.execute(text("select totp_secret, password_hash from users where id = :id"), {"id": user.id}).one()
    assert SECRET not in raw.totp_secret
    assert raw.password_hash.startswith("scrypt:") and PASSWORD not in raw.password_hash
    assert user.totp_secret == SECRET


@pytest.mark.parametrize("path", ["/login", "/dashboard"])
def test_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# A moment in the middle of a 30-second TOTP step, so one step back or ahead is still within the allowed drift.
STEP_MIDDLE = datetime(2026, 11, 30, 9, 0, 15)


def code_at(moment: datetime) -> str:
    return pyotp.TOTP(SECRET).at(moment)


def test_a_code_older_than_the_last_one_used_is_refused(app, make_user):
    """Replay protection keeps the last step used: the previous step's code, still within the drift window,
    must not sign in once the current one has."""
    user = make_user("approver", totp_secret=SECRET)
    auth.verify_second_factor(user, code_at(STEP_MIDDLE), now=STEP_MIDDLE)
    last_step = pyotp.TOTP(SECRET).timecode(STEP_MIDDLE)
    assert user.totp_last_step == last_step
    older = code_at(STEP_MIDDLE - timedelta(seconds=30))
    assert older != code_at(STEP_MIDDLE)
    with pytest.raises(AuthenticationError, match="already used"):
        auth.verify_second_factor(user, older, now=STEP_MIDDLE)
    assert user.totp_last_step == last_step


def test_the_next_code_is_accepted_once_after_the_current_one(app, make_user):
    user = make_user("approver", totp_secret=SECRET)
    auth.verify_second_factor(user, code_at(STEP_MIDDLE), now=STEP_MIDDLE)
    later = STEP_MIDDLE + timedelta(seconds=30)
    auth.verify_second_factor(user, code_at(later), now=later)
    assert user.totp_last_step == pyotp.TOTP(SECRET).timecode(later)
    with pytest.raises(AuthenticationError, match="already used"):
        auth.verify_second_factor(user, code_at(later), now=later)
    with pytest.raises(AuthenticationError, match="already used"):  # the first one, now two steps old
        auth.verify_second_factor(user, code_at(STEP_MIDDLE), now=later)


@pytest.mark.parametrize(("offset", "accepted"), [(-60, False), (-30, True), (0, True), (30, True), (60, False)])
def test_codes_within_one_step_of_drift_are_accepted(app, make_user, offset, accepted):
    user = make_user("approver", totp_secret=SECRET)
    code = code_at(STEP_MIDDLE + timedelta(seconds=offset))
    if accepted:
        auth.verify_second_factor(user, code, now=STEP_MIDDLE)
        assert user.totp_last_step == pyotp.TOTP(SECRET).timecode(STEP_MIDDLE + timedelta(seconds=offset))
    else:
        with pytest.raises(AuthenticationError, match="not valid"):
            auth.verify_second_factor(user, code, now=STEP_MIDDLE)
        assert user.totp_last_step is None


# ---- found by the mutation run (docs/testing.md): exact messages, the enrollment URI, resets ---------------------

def test_the_refusals_say_exactly_what_to_do(app, make_user):
    user = make_user("approver", totp_secret=SECRET)
    with pytest.raises(AuthenticationError) as wrong:
        auth.verify_second_factor(user, "000000" if code_at(STEP_MIDDLE) != "000000" else "111111", now=STEP_MIDDLE)
    assert str(wrong.value) == "That code is not valid. Check your device's clock and try again."
    auth.verify_second_factor(user, code_at(STEP_MIDDLE), now=STEP_MIDDLE)
    with pytest.raises(AuthenticationError) as used:
        auth.verify_second_factor(user, code_at(STEP_MIDDLE), now=STEP_MIDDLE)
    assert str(used.value) == "That code was already used. Wait for the next one."
    newcomer = make_user("approver")
    with pytest.raises(AuthenticationError) as none:
        auth.verify_second_factor(newcomer, code_at(STEP_MIDDLE), now=STEP_MIDDLE)
    assert str(none.value) == "no authenticator is enrolled for this account"
    with pytest.raises(ValidationError) as early:
        auth.confirm_enrollment(newcomer, "123456", now=STEP_MIDDLE)
    assert (early.value.field, early.value.message) == ("code", "start enrollment first")


def test_the_enrollment_uri_names_the_issuer_and_the_account(app, make_user):
    user = make_user("approver")
    secret = auth.start_enrollment(user)
    parsed = pyotp.parse_uri(auth.provisioning_uri(user, "Ledgerflow Test"))
    assert (parsed.secret, parsed.name, parsed.issuer) == (secret, user.email, "Ledgerflow Test")


def test_confirming_records_the_moment_and_resetting_forgets_everything(app, make_user):
    user = make_user("approver")
    secret = auth.start_enrollment(user)
    auth.confirm_enrollment(user, pyotp.TOTP(secret).at(STEP_MIDDLE), now=STEP_MIDDLE)
    assert user.totp_confirmed_at == STEP_MIDDLE and user.has_second_factor
    auth.reset_second_factor(user)
    db.session.expire_all()
    assert (user.totp_secret, user.totp_confirmed_at, user.totp_last_step) == (None, None, None)
    assert not user.has_second_factor and auth.start_enrollment(user) != secret


def test_using_a_code_marks_only_that_users_last_step(app, make_user):
    user, colleague = make_user("approver", totp_secret=SECRET), make_user("approver", totp_secret=SECRET)
    auth.verify_second_factor(user, code_at(STEP_MIDDLE), now=STEP_MIDDLE)
    db.session.expire_all()
    assert colleague.totp_last_step is None
    auth.verify_second_factor(colleague, code_at(STEP_MIDDLE), now=STEP_MIDDLE)  # same secret, own replay guard


def test_a_code_typed_with_a_space_in_the_middle_is_accepted(app, make_user):
    user = make_user("approver", totp_secret=SECRET)
    code = code_at(STEP_MIDDLE)
    auth.verify_second_factor(user, f" {code[:3]} {code[3:]} ", now=STEP_MIDDLE)
    assert user.totp_last_step == pyotp.TOTP(SECRET).timecode(STEP_MIDDLE)


def test_a_wrong_password_and_an_unknown_email_get_the_same_exact_answer(app, make_user):
    user = make_user("approver")
    answers = []
    for email, password in ((user.email, "wrong password"), ("nobody@staff.example", "x")):
        with pytest.raises(AuthenticationError) as refused:
            auth.authenticate(email, password)
        answers.append(str(refused.value))
    assert answers == ["Unknown e-mail or wrong password"] * 2


@pytest.mark.no_db
def test_a_password_of_exactly_the_minimum_length_is_enough_and_one_less_is_named():
    assert auth.hash_password("x" * 12, 12)
    with pytest.raises(ValidationError) as short:
        auth.hash_password("x" * 11, 12)
    assert (short.value.field, short.value.message) == ("password", "must be at least 12 characters long")


# --- sign-in in the audit trail -------------------------------------------------------------------------------------

def audit_events_since(first_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.id > first_id).order_by(AuditEvent.id)))


def last_audit_id() -> int:
    db.session.commit()  # the test's rows so far, so that the requests see them
    return db.session.scalar(select(func.max(AuditEvent.id))) or 0


def test_a_sign_in_is_one_audit_event_naming_who_from_where_and_the_second_step(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    start = last_audit_id()
    submit_password(client, user.email)
    submit_code(client, "/login/code", pyotp.TOTP(SECRET).now())
    [event] = audit_events_since(start)
    assert (event.action, event.actor, event.actor_id, event.ip) == ("sign_in", user.email, user.id, "127.0.0.1")
    assert (event.entity_type, event.entity_id) == ("User", str(user.id))
    assert event.summary == "Signed in with authenticator code"
    assert event.changes == {"outcome": "signed in", "second_factor": "code"}
    db.session.refresh(user)
    assert event.occurred_at == user.last_login_at


def test_refused_sign_ins_are_audited_with_the_step_and_the_real_reason(client, make_user):
    user = make_user("accountant", totp_secret=SECRET)
    idle = make_user("accountant", totp_secret=SECRET, active=False)
    start = last_audit_id()
    submit_password(client, user.email, "not the password")
    submit_password(client, "Nobody@Staff.example", "whatever-password")
    submit_password(client, idle.email)
    submit_password(client, user.email)
    submit_code(client, "/login/code", "000000" if pyotp.TOTP(SECRET).now() != "000000" else "111111")
    events = audit_events_since(start)
    assert [(e.action, e.actor, e.actor_id, e.entity_id, e.changes) for e in events] == [
        ("refused", user.email, user.id, str(user.id),
         {"outcome": "refused", "step": "password", "reason": "wrong password"}),
        ("refused", "Nobody@Staff.example", None, "", {"outcome": "refused", "step": "password",
                                                       "reason": "unknown e-mail"}),
        ("refused", idle.email, idle.id, str(idle.id),
         {"outcome": "refused", "step": "password", "reason": "account deactivated"}),
        ("refused", user.email, user.id, str(user.id), {
            "outcome": "refused", "step": "authenticator code",
            "reason": "That code is not valid. Check your device's clock and try again."}),
    ]
    assert events[0].summary == "Sign-in refused at the password: wrong password"
    assert all(e.ip == "127.0.0.1" for e in events)


def test_enrolling_is_done_by_the_person_signing_in_not_by_anonymous(client, make_user):
    user = make_user("reviewer")
    start = last_audit_id()
    submit_password(client, user.email)
    client.get("/login/enroll")
    db.session.refresh(user)
    submit_code(client, "/login/enroll", pyotp.TOTP(user.totp_secret).now())
    events = audit_events_since(start)
    assert {e.actor for e in events} == {user.email}
    assert [e.action for e in events] == ["update", "update", "sign_in"]
    assert events[0].changes == {"totp_secret": [None, "[redacted]"]}
    assert list(events[1].changes) == ["totp_confirmed_at"]
    assert events[-1].changes["second_factor"] == "enrollment"


def test_a_customer_without_authenticator_signs_in_with_the_password_only(client, make_user):
    user = make_user("customer")
    start = last_audit_id()
    submit_password(client, user.email)
    [event] = audit_events_since(start)
    assert (event.action, event.changes["second_factor"]) == ("sign_in", "none")
    assert event.summary == "Signed in with password only"
