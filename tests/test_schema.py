"""Column-role mapping on the headers of real exports."""

import pytest

from custlens.schema import CONTACTS, INTERACTIONS, PURCHASES, match_roles, normalize_header

EXPORTS = {
    "UCI Online Retail": (["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                           "CustomerID", "Country"],
                          {"order_id": "InvoiceNo", "product_id": "StockCode", "product": "Description",
                           "quantity": "Quantity", "order_date": "InvoiceDate", "unit_price": "UnitPrice",
                           "customer_id": "CustomerID", "region": "Country"}),
    "UCI Online Retail II": (["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
                              "Customer ID", "Country"],
                             {"order_id": "Invoice", "order_date": "InvoiceDate", "unit_price": "Price",
                              "customer_id": "Customer ID", "quantity": "Quantity"}),
    "Shopify orders": (["Name", "Email", "Financial Status", "Paid at", "Currency", "Subtotal", "Total",
                        "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku"],
                       {"order_id": "Name", "customer_id": "Email", "order_date": "Created at", "amount": "Total",
                        "quantity": "Lineitem quantity", "unit_price": "Lineitem price", "product": "Lineitem name",
                        "product_id": "Lineitem sku", "currency": "Currency"}),
    "WooCommerce orders": (["Order ID", "Order Date", "Customer User ID", "Billing Email", "Order Total Amount",
                            "Product Name", "Quantity (- Refund)", "Item Cost", "SKU"],
                           {"order_id": "Order ID", "order_date": "Order Date", "customer_id": "Customer User ID",
                            "amount": "Order Total Amount", "product": "Product Name",
                            "quantity": "Quantity (- Refund)", "unit_price": "Item Cost", "product_id": "SKU"}),
    "1C sales report": (["Период", "Контрагент", "Номенклатура", "Количество", "Цена", "Сумма с НДС",
                         "Номер документа"],
                        {"order_date": "Период", "customer_id": "Контрагент", "product": "Номенклатура",
                         "quantity": "Количество", "unit_price": "Цена", "amount": "Сумма с НДС",
                         "order_id": "Номер документа"}),
    "Bitrix24 deals": (["ID", "Контакт", "Дата создания", "Сумма", "Валюта"],
                       {"customer_id": "Контакт", "order_date": "Дата создания", "amount": "Сумма",
                        "currency": "Валюта"}),
    "Ukrainian shop": (["Номер замовлення", "Клієнт", "Дата", "Сума", "Кількість", "Ціна", "Товар", "Категорія"],
                       {"order_id": "Номер замовлення", "customer_id": "Клієнт", "order_date": "Дата",
                        "amount": "Сума", "quantity": "Кількість", "unit_price": "Ціна", "product": "Товар",
                        "category": "Категорія"}),
    "CDNOW": (["customer_id", "date", "number_of_cds", "dollar_value"],
              {"customer_id": "customer_id", "order_date": "date", "quantity": "number_of_cds",
               "amount": "dollar_value"}),
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_known_exports_map(name):
    headers, expected = EXPORTS[name]
    mapping = match_roles(headers, PURCHASES)
    for role, header in expected.items():
        assert mapping.get(role) == header, (role, mapping)
    assert len(set(mapping.values())) == len(mapping)  # one role per column


def test_headers_fold_case_space_underscore_and_yo():
    assert normalize_header(" Customer_ID ") == normalize_header("customer id") == normalize_header("CUSTOMER-ID")
    assert normalize_header("Номер  заказа") == normalize_header("номер_заказа")
    assert normalize_header("Приём") == normalize_header("прием")


def test_best_synonym_wins_when_two_columns_match():
    mapping = match_roles(["Email", "Customer ID", "Date", "Amount"], PURCHASES)
    assert mapping["customer_id"] == "Customer ID"


def test_contacts_and_interactions_keep_email_for_itself():
    contacts = match_roles(["Клиент", "ФИО", "Email", "Телефон", "Дата регистрации", "Согласие на рассылку"],
                           CONTACTS)
    assert contacts == {"customer_id": "Клиент", "name": "ФИО", "email": "Email", "phone": "Телефон",
                        "signup_date": "Дата регистрации", "consent": "Согласие на рассылку"}
    interactions = match_roles(["Клиент", "Дата", "Канал", "Точка контакта", "Тип", "Статус", "Оценка CSAT", "NPS"],
                               INTERACTIONS)
    assert set(interactions) == {"customer_id", "date", "channel", "touchpoint", "type", "status", "csat", "nps"}
