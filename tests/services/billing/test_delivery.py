"""Approved proformas are uploaded to the customer's SFTP channel once; a channel that is down becomes an
incident, and Retry after it is back uploads exactly once. The e-mail greets the billing contacts by name and
says where to pay and what to quote."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import paramiko
import pytest
from sqlalchemy import delete, select

from portal.exports.payment import grouped_reference
from portal.extensions import db
from portal.integrations.retry import RetryPolicy
from portal.models import ProcessInstance, Proforma, ServiceJob, UploadReceipt
from portal.services.billing import delivery, documents
from portal.services.workflow import service_jobs, timers
from tests.support import factories
from tests.support.proforma import complete_steps, deploy_approval_process, draft_for
from tests.support.smtp_server import SmtpServer
from tests.support.upload_servers import (
    PASSWORD,
    USERNAME,
    FolderSFTP,
    SFTPTestServer,
    ed25519_key,
    free_port,
    https_server,
    openssh_line,
)


@pytest.fixture
def host_key():
    return ed25519_key()


def approve(make_user, server, host_key) -> Proforma:
    deploy_approval_process()
    factories.ExchangeRateFactory()  # the invoice issued after approval converts EUR to the base currency
    (server.root / "inbox").mkdir(exist_ok=True)
    contract = factories.ContractFactory(
        customer=factories.CustomerFactory(), document_formats="pdf,ubl", upload_channel="sftp",
        upload_url=server.url(), upload_username=USERNAME, upload_secret=PASSWORD,
        upload_host_key=openssh_line(host_key))
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
    steps = ((make_user("reviewer"), "submitted"), (make_user("approver"), "approved"))
    return complete_steps(draft_for(contract), steps)


def uploaded(server) -> list[str]:
    return sorted(p.name for p in (server.root / "inbox").iterdir() if not p.name.startswith("."))


def test_approved_files_are_uploaded_once_with_receipts(app, make_user, tmp_path, host_key):
    server = SFTPTestServer(tmp_path, [host_key]).start()
    try:
        proforma = approve(make_user, server, host_key)
        names = uploaded(server)
        assert len(names) == 2 and all(name.endswith((".pdf", ".ubl.xml")) for name in names)
        receipts = db.session.scalars(select(UploadReceipt).where(UploadReceipt.proforma_id == proforma.id)).all()
        assert sorted(r.filename for r in receipts) == sorted(d.filename for d in proforma.documents)
        assert all(r.status == "stored" and r.reference.startswith("sha256:") for r in receipts)
    finally:
        server.stop()


def test_a_channel_that_is_down_becomes_an_incident_and_retry_uploads_exactly_once(app, make_user, tmp_path,
                                                                                   host_key):
    port = free_port()
    server = SFTPTestServer(tmp_path, [host_key], port=port)  # not started: the channel is down
    proforma = approve(make_user, server, host_key)
    job = db.session.scalar(select(ServiceJob).where(ServiceJob.instance_id == proforma.process_instance_id,
                                                     ServiceJob.topic == "proforma.upload"))
    while job.state == "queued":  # the sweep's retries, each once its backoff has passed
        timers.sweep(job.next_attempt_at + timedelta(seconds=1))
        db.session.commit()
        db.session.refresh(job)
    assert job.state == "incident" and "sftp://127.0.0.1" in job.last_error
    assert db.session.get(ProcessInstance, proforma.process_instance_id).status == "incident"

    server = SFTPTestServer(tmp_path, [host_key], port=port).start()
    try:
        service_jobs.retry_incident(proforma.process_instance_id, "ops")
        db.session.commit()
        assert len(uploaded(server)) == 2
        service_jobs.run(job.id)  # a second run of the same job does nothing
        db.session.commit()
        assert len(uploaded(server)) == 2 and server.connections == 1
        assert db.session.get(ProcessInstance, proforma.process_instance_id).status != "incident"
    finally:
        server.stop()


def test_approved_files_go_over_https_to_a_receiver_whose_ca_the_contract_trusts(app, make_user, tmp_path):
    server, receiver, ca = https_server(tmp_path)
    server.start()
    try:
        deploy_approval_process()
        factories.ExchangeRateFactory()  # the invoice issued after approval converts EUR to the base currency
        contract = factories.ContractFactory(
            customer=factories.CustomerFactory(), document_formats="pdf,ubl", upload_channel="https",
            upload_url=server.url_for("/upload"), upload_username=USERNAME, upload_secret=PASSWORD,
            upload_ca_certificates=ca.read_text())
        factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
        steps = ((make_user("reviewer"), "submitted"), (make_user("approver"), "approved"))
        proforma = complete_steps(draft_for(contract), steps)
    finally:
        server.stop()
    assert sorted(r["name"] for r in receiver.requests) == sorted(d.filename for d in proforma.documents)
    receipts = db.session.scalars(select(UploadReceipt).where(UploadReceipt.proforma_id == proforma.id)).all()
    assert sorted(r.reference for r in receipts) == ["RCV-0001", "RCV-0002"]


def https_contract(server, ca) -> object:
    contract = factories.ContractFactory(
        customer=factories.CustomerFactory(), document_formats="pdf,ubl", upload_channel="https",
        upload_url=server.url_for("/upload"), upload_username=USERNAME, upload_secret=PASSWORD,
        upload_ca_certificates=ca.read_text())
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
    return contract


def rendered_draft(contract) -> Proforma:
    """A drafted proforma with its files rendered, not yet uploaded (the upload is called by the test)."""
    deploy_approval_process()
    proforma = draft_for(contract)
    documents.render_all(proforma)
    return proforma


def receipts_of(proforma) -> list[str]:
    return sorted(db.session.scalars(select(UploadReceipt.filename).where(UploadReceipt.proforma_id == proforma.id)))


def test_a_retried_upload_sends_only_the_files_without_a_receipt(app, tmp_path):
    server, receiver, ca = https_server(tmp_path)
    server.start()
    try:
        proforma = rendered_draft(https_contract(server, ca))
        names = sorted(d.filename for d in proforma.documents)
        assert delivery.upload_operation({"proforma_id": proforma.id}, None) == {"uploaded": 2}
        assert sorted(r["name"] for r in receiver.requests) == names and receipts_of(proforma) == names

        assert delivery.upload_operation({"proforma_id": proforma.id}, None) == {"uploaded": 0}
        assert len(receiver.requests) == 2  # every file has its receipt: nothing goes out again

        ubl = next(name for name in names if name.endswith(".ubl.xml"))  # as if only the PDF had gone before
        db.session.execute(delete(UploadReceipt).where(UploadReceipt.proforma_id == proforma.id,
                                                       UploadReceipt.filename == ubl))
        assert delivery.upload_operation({"proforma_id": proforma.id}, None) == {"uploaded": 1}
    finally:
        server.stop()
    assert [r["name"] for r in receiver.requests[2:]] == [ubl]
    assert receipts_of(proforma) == names


def test_an_sftp_upload_retried_after_a_failure_does_not_send_the_files_that_went_before(
        app, make_user, tmp_path, host_key, monkeypatch):
    """The UBL file fails once on the server after the PDF went: the retry (a new connection) sends the UBL only."""
    opened, refused = [], []
    real_open = FolderSFTP.open

    def open_failing_the_first_ubl(self, path, flags, attr):
        opened.append(path)
        if ".ubl.xml" in path and path.endswith(".part") and not refused:
            refused.append(path)
            return paramiko.SFTP_FAILURE
        return real_open(self, path, flags, attr)

    monkeypatch.setattr(FolderSFTP, "open", open_failing_the_first_ubl)
    monkeypatch.setattr(delivery, "QUICK_RETRY", RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01))
    server = SFTPTestServer(tmp_path, [host_key]).start()
    try:
        (server.root / "inbox").mkdir()
        contract = factories.ContractFactory(
            customer=factories.CustomerFactory(), document_formats="pdf,ubl", upload_channel="sftp",
            upload_url=server.url(), upload_username=USERNAME, upload_secret=PASSWORD,
            upload_host_key=openssh_line(host_key))
        factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
        proforma = rendered_draft(contract)
        assert delivery.upload_operation({"proforma_id": proforma.id}, None) == {"uploaded": 2}
    finally:
        server.stop()
    pdf, ubl = (next(d.filename for d in proforma.documents if d.format == fmt) for fmt in ("pdf", "ubl"))
    assert refused and server.connections == 2
    assert len([path for path in opened if pdf in path]) == 1  # written once, not looked at again on the retry
    assert len([path for path in opened if ubl in path]) == 2  # refused, then written
    assert len(uploaded(server)) == 2 and receipts_of(proforma) == sorted((pdf, ubl))


def e_mailed(app, proforma) -> str:
    """Send the proforma's e-mail to a local SMTP server; the text it received."""
    with SmtpServer() as server:
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{server.port}"
        try:
            delivery.email_operation({"proforma_id": proforma.id}, None)
        finally:
            app.config["SMTP_URL"] = None
        (received,) = server.received
    return received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_the_e_mail_greets_the_billing_contact_by_name_and_names_account_and_reference(app):
    customer = factories.CustomerFactory()
    factories.ContactFactory(customer=customer, name="Greta Bauer", email="greta@customer.example")
    factories.ContactFactory(customer=customer, kind="technical", name="Tom Tech", email="tom@customer.example")
    contract = factories.ContractFactory(customer=customer)
    factories.FixedLineFactory(contract=contract, unit_price=Decimal("900.00"))
    proforma = rendered_draft(contract)
    text = e_mailed(app, proforma)
    assert text.startswith("Dear Greta Bauer,\n") and "Dear customer" not in text and "Tom Tech" not in text
    assert "IBAN DE89 3704 0044 0532 0130 00" in text and "BIC COBADEFFXXX" in text and "Demo Bank" in text
    reference = documents.document_for(proforma).payment_reference
    assert reference.startswith("RF") and f"quoting the payment reference {grouped_reference(reference)}.\n" in text


def test_several_billing_contacts_are_greeted_together():
    assert delivery.greeting(["Greta Bauer"]) == "Dear Greta Bauer,"
    assert delivery.greeting(["Greta Bauer", "Max Muster"]) == "Dear Greta Bauer and Max Muster,"
    assert delivery.greeting(["A Alpha", "B Beta", "C Gamma"]) == "Dear A Alpha, B Beta and C Gamma,"
    assert delivery.greeting(["  ", ""]) == "Dear customer,"
