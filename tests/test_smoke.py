from portal.models import Customer
from tests.support.factories import CustomerFactory
from tests.support.web import login_as


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b"Sign in" in response.data


def test_rollback_isolation_first(app):
    CustomerFactory(code="ISO1")
    assert Customer.query.filter_by(code="ISO1").count() == 1


def test_rollback_isolation_second(app):
    assert Customer.query.filter_by(code="ISO1").count() == 0


def test_dashboard_for_admin(app, client, make_user):
    user = make_user("admin")
    login_as(app, client, user)
    response = client.get("/dashboard")
    assert response.status_code == 200, response.data[:500]
    assert b"Active customers" in response.data
