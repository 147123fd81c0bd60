"""Every admin grid in words: headers, filters and form labels name no column (`billing_city`), and amounts,
quantities and rates read as people write them (4,500.00; 25; 19 %), in lists and details alike."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest

from tests.admin.test_grids import GRIDS, everything  # noqa: F401 - the fixture with one row per grid
from tests.support import factories as f
from tests.support.web import filter_groups

RAW_NAME = re.compile(r"\w_\w")  # "billing_city", "valid_from": a column name, not words
CREATABLE = ("customers", "contracts", "projects", "fixed_lines", "rate_cards", "exchange_rates", "users")


def cells(page: str, selector: str) -> list[str]:
    """The texts of the `<th>` or `<label>` elements of a page, tags stripped."""
    found = re.findall(rf"<{selector}\b[^>]*>(.*?)</{selector}>", page, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in found]


@pytest.mark.parametrize("grid", GRIDS)
def test_each_grids_headers_and_filters_are_words(client, admin, everything, grid):  # noqa: F811
    response = client.get(f"/admin/{grid}/")
    page = response.get_data(as_text=True)
    headers = [text for text in cells(page, "th") if text]
    assert headers and not [text for text in headers if RAW_NAME.search(text) or text[0].islower()], headers
    filters = list(filter_groups(response))  # the filter menu's entries, one per column
    assert not [name for name in filters if RAW_NAME.search(name)], filters


@pytest.mark.parametrize("grid", CREATABLE)
def test_each_grids_form_labels_are_words(client, admin, grid):
    page = client.get(f"/admin/{grid}/new/").get_data(as_text=True)
    # A label may quote the codes one types ("Formats (… sap_csv …)"); the words around them are what counts.
    labels = [re.sub(r"\(.*?\)", "", text) for text in cells(page, "label")]
    assert labels and not [text for text in labels if RAW_NAME.search(text)], labels


def test_amounts_are_grouped_and_quantities_plain_in_the_list_and_the_details(client, admin):
    line = f.FixedLineFactory(description="Licences", quantity=Decimal("25"), unit_price=Decimal("4500.00"),
                              tax_rate=Decimal("19"))
    f.FixedLineFactory(contract=f.ContractFactory(currency="JPY"), description="Yen fee", quantity=Decimal("2.5"),
                       unit_price=Decimal("146913.00"), tax_rate=Decimal("10"))
    listed = client.get("/admin/fixed_lines/").get_data(as_text=True)
    assert re.findall(r'<td class="col-unit_price">\s*(.*?)\s*</td>', listed, re.S) == ["4,500.00", "146,913"]
    assert re.findall(r'<td class="col-quantity">\s*(.*?)\s*</td>', listed, re.S) == ["25", "2.5"]
    assert re.findall(r'<td class="col-tax_rate">\s*(.*?)\s*</td>', listed, re.S) == ["19 %", "10 %"]
    details = " ".join(client.get(f"/admin/fixed_lines/details/?id={line.id}").get_data(as_text=True).split())
    assert "4,500.00" in details and "25.0000" not in details and "4500.00" not in details
