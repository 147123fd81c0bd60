"""Delivering approved proformas: upload to the customer's channel, e-mail to its billing contacts."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from portal import money, settings
from portal.errors import ValidationError
from portal.exports import payment
from portal.extensions import db
from portal.integrations import mail, uploads
from portal.integrations.retry import RetryPolicy
from portal.models import UploadReceipt
from portal.services.billing import drafting
from portal.services.billing.drafting import proforma_operation
from portal.services.masterdata import rules


def smtp_settings() -> mail.SmtpSettings:
    """SMTP_URL from the configuration, sending as the seller."""
    url = settings.config().get("SMTP_URL")
    if not url:
        raise ValidationError("SMTP_URL", "no mail server is configured (e.g. smtp://user:pass@host:587?starttls=1)")
    config = settings.config()
    return replace(mail.SmtpSettings.from_url(url), sender=f"{config['SELLER_NAME']} <{config['SELLER_EMAIL']}>")


@proforma_operation("proforma.email", "E-mail the proforma to the customer",
                    "Sends the PDF to the customer's billing contacts (SMTP_URL).",
                    outputs=("mail_message_id",), max_attempts=5, backoff_seconds=30, queue="notifications")
def email_operation(params: dict, context) -> dict:
    """proforma.email: the PDF to the customer's billing contacts; the same proforma PDF keeps its Message-ID."""
    proforma = drafting.get(params.get("proforma_id"))
    customer = proforma.contract.customer
    contacts = [contact for contact in customer.contacts if contact.kind == "billing"]
    if not contacts:
        raise ValidationError("contacts", f"customer {customer.code} has no billing contact to e-mail")
    pdf = next((d for d in proforma.documents if d.format == "pdf"), None)
    if pdf is None:
        raise ValidationError("document_formats", f"contract {proforma.contract.number} has no PDF to send")
    message = mail.Message(
        to=[contact.email for contact in contacts], subject=f"Proforma invoice {proforma.number} ({proforma.period})",
        text=mail_text(proforma, [contact.name for contact in contacts]),
        attachments=[mail.Attachment(pdf.filename, pdf.content, "application/pdf")],
        message_id=f"proforma-mail:{proforma.id}:{pdf.sha256}",
        headers={"Auto-Submitted": "auto-generated"})
    return {"mail_message_id": mail.send(smtp_settings(), message)}


def mail_text(proforma, names: list[str]) -> str:
    """The e-mail's text: the contacts greeted by name, the amount due, the account and the reference to quote."""
    config = settings.config()
    account = payment.seller_account(config)
    reference = payment.grouped_reference(payment.payment_reference(proforma.number))
    return (f"{greeting(names)}\n\nplease find attached proforma invoice {proforma.number} for {proforma.period}, "
            f"{money.display(proforma.gross_total, proforma.currency)}, due {proforma.due_date:%Y-%m-%d}. "
            f"It is also available in your customer portal.\n\n"
            f"Please transfer the amount to\n  IBAN {payment.grouped_iban(account)}\n  BIC {account.bic}\n"
            f"  {account.bank_name}\nquoting the payment reference {reference}.\n\n{config['SELLER_NAME']}\n")


def greeting(names: list[str]) -> str:
    """'Dear Greta Bauer,' ('Dear A, B and C,' for several contacts; 'Dear customer,' when no one has a name)."""
    names = [name.strip() for name in names if name and name.strip()]
    if not names:
        return "Dear customer,"
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"Dear {listed},"


@proforma_operation("proforma.upload", "Upload the proforma files to the customer's portal",
                    "Sends the rendered files over the contract's channel (SFTP or HTTPS) with an idempotency key.",
                    outputs=("uploaded",), max_attempts=4, backoff_seconds=60, queue="integrations")
def upload_operation(params: dict, context) -> dict:
    """proforma.upload: the stored files to the contract's channel, once each (receipts say what went)."""
    proforma = drafting.get(params.get("proforma_id"))
    contract = proforma.contract
    if contract.upload_channel == "none":
        return {"uploaded": 0}
    channel = rules.upload_channel_of(contract)
    key = f"ledgerflow-proforma-{proforma.id}"
    sent = set(db.session.scalars(select(UploadReceipt.filename).where(UploadReceipt.proforma_id == proforma.id,
                                                                        UploadReceipt.idempotency_key == key)))
    pending = [d for d in sorted(proforma.documents, key=lambda d: d.format) if d.filename not in sent]
    if not pending:
        return {"uploaded": 0}
    receipts = uploads.upload(channel, [uploads.UploadFile(d.filename, d.content, d.content_type) for d in pending],
                              key, retry=QUICK_RETRY)
    for document, receipt in zip(pending, receipts, strict=True):
        db.session.add(UploadReceipt(
            proforma_id=proforma.id, filename=document.filename, channel=receipt.channel,
            location=receipt.location, idempotency_key=key, status=receipt.status, reference=receipt.reference or "",
            already_present=receipt.already_present, uploaded_at=receipt.uploaded_at.replace(tzinfo=None)))
    db.session.flush()
    return {"uploaded": len(receipts)}


# A worker should not sleep long: a few quick tries here, the job's own backoff between attempts.
QUICK_RETRY = RetryPolicy(attempts=2, base_delay=1, max_delay=5)
