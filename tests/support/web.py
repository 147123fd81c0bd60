"""Driving the web app as a browser would: CSRF tokens, signing in, posting forms."""

from __future__ import annotations

import html
import io
import json
import re

from portal.extensions import db

_CSRF = (re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"'),
         re.compile(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"'))


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in `html`."""
    for pattern in _CSRF:
        match = pattern.search(html)
        if match:
            return match.group(1)
    raise AssertionError("page has no CSRF token")


def page_csrf(client, url: str = "/login") -> str:
    """The CSRF token of the page at `url`, as the browser would have it."""
    return csrf_from(client.get(url).get_data(as_text=True))


def text(response) -> str:
    """A response's body as text."""
    return response.get_data(as_text=True)


def login_as(app, client, user) -> None:
    """Sign `user` in on `client` the way Flask-Login records it (tests of sign-in itself use the forms)."""
    with app.test_request_context(environ_base=client.environ_base):
        identifier = app.login_manager._session_identifier_generator()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["_id"] = identifier
        session.permanent = True


def sign_in(app, client, user):
    """Commit the test's rows so far (to its SAVEPOINT: requests use their own session), then sign `user` in."""
    db.session.commit()
    login_as(app, client, user)
    return user


def post_form(client, url: str, data: dict | None = None, *, form_page: str = "/dashboard", **kwargs):
    """POST `data` to `url` with the CSRF token of `form_page`, as a form a signed-in user submits."""
    token = page_csrf(client, form_page)
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


def upload(client, url: str, data: dict, content: bytes | None, filename: str):
    """POST a multipart form with `content` as its file field (none when `content` is None)."""
    if content is not None:
        data = {**data, "file": (io.BytesIO(content), filename)}
    return post_form(client, url, data, content_type="multipart/form-data")


def page_text(response) -> str:
    """A page's text as a reader sees it: entities decoded, runs of white space as one space."""
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def filter_groups(response) -> dict:
    """The filters an admin grid offers, per column, from the JSON the page embeds for Flask-Admin's script."""
    match = re.search(r'(?s)id="filter-groups-data"[^>]*>(.*?)</', response.get_data(as_text=True))
    return json.loads(html.unescape(match.group(1))) if match else {}
