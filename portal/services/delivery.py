"""Delivering approved proformas: e-mail to the customer's billing contacts (upload channels come next)."""

from __future__ import annotations

from dataclasses import replace

from flask import current_app

from portal.errors import ValidationError
from portal.integrations import mail
from portal.services import billing


def smtp_settings() -> mail.SmtpSettings:
    """SMTP_URL from the configuration, sending as the seller."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        raise ValidationError("SMTP_URL", "no mail server is configured (e.g. smtp://user:pass@host:587?starttls=1)")
    config = current_app.config
    return replace(mail.SmtpSettings.from_url(url), sender=f"{config['SELLER_NAME']} <{config['SELLER_EMAIL']}>")


def email_operation(params: dict, context) -> dict:
    """proforma.email: the PDF to the customer's billing contacts; the same proforma PDF keeps its Message-ID."""
    proforma = billing.get(params.get("proforma_id"))
    customer = proforma.contract.customer
    recipients = [contact.email for contact in customer.contacts if contact.kind == "billing"]
    if not recipients:
        raise ValidationError("contacts", f"customer {customer.code} has no billing contact to e-mail")
    pdf = next((d for d in proforma.documents if d.format == "pdf"), None)
    if pdf is None:
        raise ValidationError("document_formats", f"contract {proforma.contract.number} has no PDF to send")
    message = mail.Message(
        to=recipients, subject=f"Proforma invoice {proforma.number} ({proforma.period})",
        text=(f"Dear customer,\n\nplease find attached proforma invoice {proforma.number} for {proforma.period}, "
              f"{proforma.gross_total} {proforma.currency}, due {proforma.due_date:%Y-%m-%d}.\n\n"
              f"It is also available in your customer portal.\n\n{current_app.config['SELLER_NAME']}\n"),
        attachments=[mail.Attachment(pdf.filename, pdf.content, "application/pdf")],
        message_id=f"proforma-mail:{proforma.id}:{pdf.sha256}",
        headers={"Auto-Submitted": "auto-generated"})
    return {"mail_message_id": mail.send(smtp_settings(), message)}
