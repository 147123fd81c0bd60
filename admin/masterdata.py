"""Grids for customers, contracts, projects, fixed line items and rate cards."""

from __future__ import annotations

from wtforms import PasswordField
from wtforms.validators import ValidationError as FieldError

from admin.base import SecuredModelView
from portal.exports.sap_csv import DECIMAL_SEPARATORS, DELIMITERS
from portal.models import (
    Contract,
    Customer,
    CustomerBankAccount,
    CustomerContact,
    FixedLineItem,
    Project,
    RateCard,
    RateCardItem,
)
from portal.models.contract import BILLING_CYCLES, DOCUMENT_FORMATS, FIXED_LINE_KINDS, TAX_RULES, UPLOAD_CHANNELS
from portal.models.customer import CALLLOG_AUTH, CONTACT_KINDS
from portal.models.rates import RATE_ITEM_KINDS


def choices(values):
    return [(v, v.replace("_", " ")) for v in values]


class CustomerView(SecuredModelView):
    column_list = ("code", "name", "vat_id", "currency", "billing_city", "billing_country", "active")
    column_searchable_list = ("code", "name", "vat_id", "billing_city")
    column_filters = ("currency", "billing_country", "active", "created_at")
    column_default_sort = "code"
    column_labels = {"vat_id": "VAT ID", "calllog_url": "Call-logging URL (ServiceNow)",
                     "calllog_company": "Company name in the call-logging system", "calllog_auth": "Authentication",
                     "calllog_username": "User name", "calllog_client_id": "OAuth client ID"}
    column_details_exclude_list = ("calllog_secret", "calllog_client_secret")
    form_excluded_columns = ("contracts", "users", "created_at", "calllog_secret", "calllog_client_secret")
    form_choices = {"calllog_auth": choices(CALLLOG_AUTH)}
    form_extra_fields = {
        "new_calllog_secret": PasswordField("Call-logging password / client secret (blank keeps the stored one)"),
        "new_calllog_client_secret": PasswordField("OAuth client secret for the password grant (blank keeps it)"),
    }
    inline_models = ((CustomerContact, {"form_choices": {"kind": choices(CONTACT_KINDS)}}),
                     (CustomerBankAccount, {"column_labels": {"holder": "Account holder"}}))

    def on_model_change(self, form, model, is_created):
        for field, attribute in (("new_calllog_secret", "calllog_secret"),
                                 ("new_calllog_client_secret", "calllog_client_secret")):
            if field in form and form[field].data:
                setattr(model, attribute, form[field].data)
        super().on_model_change(form, model, is_created)


CHARACTER_NAMES = {";": "semicolon", ",": "comma", "\t": "tab", "|": "vertical bar", ".": "dot"}


def character_choices(values):
    """Choices that name each character, as a tab cannot be seen: "; (semicolon)", "tab"."""
    return [(v, CHARACTER_NAMES[v] if v.isspace() else f"{v} ({CHARACTER_NAMES[v]})") for v in values]


def known_formats(form, field) -> None:
    """Portal formats: a comma-separated list of the formats Ledgerflow renders."""
    chosen = [part.strip() for part in (field.data or "").split(",")]
    unknown = [part for part in chosen if part not in DOCUMENT_FORMATS]
    if unknown:
        raise FieldError(f"unknown {', '.join(repr(part) for part in unknown)}; use {', '.join(DOCUMENT_FORMATS)}")
    field.data = ",".join(dict.fromkeys(chosen))


def differs_from_delimiter(form, field) -> None:
    """The decimal separator must not be the column delimiter, or SAP would split every amount."""
    if field.data == form.csv_delimiter.data:
        raise FieldError("must differ from the CSV delimiter")


class ContractView(SecuredModelView):
    column_list = ("number", "customer", "currency", "payment_terms_days", "billing_cycle", "tax_rate", "valid_from",
                   "valid_to", "upload_channel")
    column_searchable_list = ("number", "title", "sap_partner_code", "customer.name", "customer.code")
    column_filters = ("customer.code", "currency", "billing_cycle", "tax_rule", "upload_channel", "valid_from",
                      "valid_to")
    column_default_sort = "number"
    column_exclude_list = ("upload_secret",)
    column_details_exclude_list = ("upload_secret",)
    column_labels = {"sap_partner_code": "SAP partner", "sap_company_code": "SAP company code",
                     "payment_terms_days": "Payment terms (days)",
                     "document_formats": "Formats (comma-separated: pdf, html, idoc, sap_csv, ubl)",
                     "portal_formats": "Formats the customer may download in the portal (comma-separated; "
                                       "pdf, ubl unless SAP files are wanted there too)",
                     "purchase_order_number": "Customer's purchase order number",
                     "buyer_reference": "Buyer reference (the customer's routing id, e.g. a Leitweg-ID)",
                     "csv_delimiter": "SAP CSV column delimiter",
                     "csv_decimal_separator": "SAP CSV decimal separator",
                     "upload_host_key": "SFTP server key(s) to trust (OpenSSH public key lines)",
                     "upload_ca_certificates": "HTTPS: CA certificate(s) to trust, PEM (blank: the system's)"}
    form_choices = {"billing_cycle": choices(BILLING_CYCLES), "tax_rule": choices(TAX_RULES),
                    "upload_channel": choices(UPLOAD_CHANNELS), "csv_delimiter": character_choices(DELIMITERS),
                    "csv_decimal_separator": character_choices(DECIMAL_SEPARATORS)}
    form_args = {"portal_formats": {"validators": [known_formats]},
                 "csv_decimal_separator": {"validators": [differs_from_delimiter]}}
    form_excluded_columns = ("projects", "created_at", "upload_secret")
    form_extra_fields = {"new_upload_secret": PasswordField("Upload password / token (blank keeps the stored one)")}
    form_widget_args = {"upload_host_key": {"rows": 3, "spellcheck": "false"},
                        "upload_ca_certificates": {"rows": 8, "spellcheck": "false",
                                                   "placeholder": "-----BEGIN CERTIFICATE-----"}}
    inline_models = ((FixedLineItem, {"form_choices": {"kind": choices(FIXED_LINE_KINDS)}}),)

    def on_model_change(self, form, model, is_created):
        secret = form.new_upload_secret.data if "new_upload_secret" in form else None
        if secret:
            model.upload_secret = secret
        super().on_model_change(form, model, is_created)


class ProjectView(SecuredModelView):
    column_list = ("code", "name", "contract", "account_manager", "responsible_manager")
    column_searchable_list = ("code", "name", "contract.number")
    column_filters = ("contract.number", "account_manager.email", "responsible_manager.email")
    column_default_sort = "code"
    form_excluded_columns = ("documents",)


class FixedLineItemView(SecuredModelView):
    column_list = ("contract", "kind", "description", "quantity", "unit_price", "tax_rate", "valid_from", "valid_to")
    column_searchable_list = ("description", "contract.number")
    column_filters = ("contract.number", "kind", "unit_price", "tax_rate", "valid_from", "valid_to")
    form_choices = {"kind": choices(FIXED_LINE_KINDS)}
    column_descriptions = {"kind": "A discount carries a negative unit price; a charge's is zero or more."}
    column_default_sort = ("contract_id", False)


class RateCardView(SecuredModelView):
    column_list = ("name", "currency", "valid_from", "valid_to")
    column_searchable_list = ("name",)
    column_filters = ("currency", "valid_from", "valid_to")
    column_default_sort = "name"
    inline_models = ((RateCardItem, {"form_choices": {"kind": choices(RATE_ITEM_KINDS)}}),)


def register(admin) -> None:
    category = "Master data"
    admin.add_view(CustomerView(Customer, name="Customers", endpoint="customers", category=category))
    admin.add_view(ContractView(Contract, name="Contracts", endpoint="contracts", category=category))
    admin.add_view(ProjectView(Project, name="Projects", endpoint="projects", category=category))
    admin.add_view(FixedLineItemView(FixedLineItem, name="Fixed line items", endpoint="fixed_lines",
                                     category=category))
    admin.add_view(RateCardView(RateCard, name="Rate cards", endpoint="rate_cards", category=category))
