"""Grids for customers, contracts, projects, fixed line items and rate cards."""

from __future__ import annotations

from wtforms import PasswordField

from admin.base import SecuredModelView
from portal.models import Contract, Customer, CustomerContact, FixedLineItem, Project, RateCard, RateCardItem
from portal.models.contract import BILLING_CYCLES, TAX_RULES, UPLOAD_CHANNELS
from portal.models.customer import CONTACT_KINDS
from portal.models.rates import RATE_ITEM_KINDS


def choices(values):
    return [(v, v.replace("_", " ")) for v in values]


class CustomerView(SecuredModelView):
    column_list = ("code", "name", "vat_id", "currency", "billing_city", "billing_country", "active")
    column_searchable_list = ("code", "name", "vat_id", "billing_city")
    column_filters = ("currency", "billing_country", "active", "created_at")
    column_default_sort = "code"
    column_labels = {"vat_id": "VAT id"}
    form_excluded_columns = ("contracts", "users", "created_at")
    inline_models = ((CustomerContact, {"form_choices": {"kind": choices(CONTACT_KINDS)}}),)


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
                     "document_formats": "Formats (comma-separated: pdf, html, idoc, sap_csv, ubl)"}
    form_choices = {"billing_cycle": choices(BILLING_CYCLES), "tax_rule": choices(TAX_RULES),
                    "upload_channel": choices(UPLOAD_CHANNELS)}
    form_excluded_columns = ("projects", "created_at", "upload_secret")
    form_extra_fields = {"new_upload_secret": PasswordField("Upload password / token (blank keeps the stored one)")}
    inline_models = (FixedLineItem,)

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
    column_list = ("contract", "description", "quantity", "unit_price", "tax_rate", "valid_from", "valid_to")
    column_searchable_list = ("description", "contract.number")
    column_filters = ("contract.number", "unit_price", "tax_rate", "valid_from", "valid_to")
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
