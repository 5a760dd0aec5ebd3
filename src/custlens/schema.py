"""Canonical roles of the three kinds of input, their types and their header synonyms.

A *role* is what a column means to custlens (``customer_id``, ``order_date``, ``amount``…),
whatever the export called it. Headers are matched after :func:`normalize_header`, so
``Customer ID``, ``customer_id`` and ``CUSTOMER-ID`` are the same header, and so are
``Номер заказа`` and ``номер_заказа``. Synonyms are listed best first: when two columns
of one file match the same role, the one whose synonym comes first wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Value types a role can have; io parses each type its own way.
ID, DATE, NUMBER, TEXT, FLAG = "id", "date", "number", "text", "flag"


@dataclass(frozen=True)
class Role:
    name: str
    type: str
    required: bool = False
    synonyms: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TableSpec:
    """The roles of one kind of input (purchases, contacts or interactions)."""

    kind: str
    roles: tuple[Role, ...]

    def role(self, name: str) -> Role:
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [role.name for role in self.roles]


_CUSTOMER = (
    "customer_id", "customerid", "customer id", "customer", "client_id", "client id", "client",
    "customer number", "customer no", "customer code", "customer user id", "user_id", "user id",
    "buyer_id", "buyer", "member_id", "account_id", "contact_id",
    # ru
    "клиент", "код клиента", "ид клиента", "id клиента", "номер клиента", "покупатель",
    "код покупателя", "контрагент", "код контрагента", "контакт", "клиент id",
    # uk
    "клієнт", "код клієнта", "ід клієнта", "id клієнта", "покупець", "код покупця", "контрагент",
    # last resort: an e-mail identifies the customer in Shopify/WooCommerce exports
    "customer email", "billing email", "email", "e-mail",
)

PURCHASES = TableSpec(
    "purchases",
    (
        Role("customer_id", ID, True, _CUSTOMER),
        Role("order_date", DATE, True, (
            "order_date", "order date", "invoicedate", "invoice date", "date", "purchase date",
            "transaction date", "created at", "date created", "paid at", "paid date", "order created",
            "datetime", "timestamp", "sale date",
            "дата", "дата заказа", "дата покупки", "дата продажи", "дата документа", "дата чека",
            "дата создания", "дата закрытия", "период",
            "дата замовлення", "дата покупки", "дата продажу", "дата документа", "дата чеку",
        )),
        Role("amount", NUMBER, True, (
            "amount", "line total", "line amount", "total", "order total", "order total amount",
            "sales", "sale amount", "revenue", "value", "sum", "net amount", "dollar_value",
            "item total", "lineitem total", "total price", "amount paid",
            "сумма", "сумма продажи", "сумма заказа", "сумма с ндс", "сумма документа", "сумма сделки",
            "стоимость", "выручка", "итого", "сумма, руб", "сумма руб",
            "сума", "сума продажу", "сума замовлення", "вартість", "виручка", "разом",
        )),
        Role("order_id", ID, False, (
            "order_id", "order id", "order number", "order no", "order", "invoice", "invoiceno",
            "invoice no", "invoice number", "receipt", "receipt id", "transaction id", "name",
            "номер заказа", "заказ", "номер документа", "документ", "номер чека", "чек", "номер",
            "номер замовлення", "замовлення", "номер документа", "номер чеку",
        )),
        Role("quantity", NUMBER, False, (
            "quantity", "qty", "lineitem quantity", "quantity refund", "units", "number_of_cds",
            "количество", "кол-во", "колво", "кол во", "кількість",
        )),
        Role("unit_price", NUMBER, False, (
            "unit_price", "unit price", "unitprice", "price", "lineitem price", "item cost", "item price",
            "цена", "цена за единицу", "ціна", "ціна за одиницю",
        )),
        Role("product_id", ID, False, (
            "product_id", "product id", "sku", "stockcode", "stock code", "item code", "lineitem sku",
            "артикул", "код товара", "код номенклатуры", "код товару",
        )),
        Role("product", TEXT, False, (
            "product", "product name", "description", "item", "item name", "lineitem name", "title",
            "товар", "номенклатура", "наименование", "наименование товара", "продукт",
            "назва товару", "найменування", "продукт",
        )),
        Role("category", TEXT, False, (
            "category", "product category", "product type", "department", "group",
            "категория", "группа товаров", "группа номенклатуры", "вид номенклатуры",
            "категорія", "група товарів",
        )),
        Role("channel", TEXT, False, (
            "channel", "sales channel", "source name", "store", "канал", "канал продаж", "канал продажів",
        )),
        Role("region", TEXT, False, ("region", "country", "state", "регион", "страна", "регіон", "країна")),
        Role("currency", TEXT, False, ("currency", "валюта")),
        Role("cost", NUMBER, False, (
            "cost", "line cost", "total cost", "cogs", "cost of goods", "себестоимость", "себестоимость сумма",
            "собівартість",
        )),
    ),
)

CONTACTS = TableSpec(
    "contacts",
    (
        Role("customer_id", ID, True, _CUSTOMER[:-4]),
        Role("name", TEXT, False, (
            "name", "full name", "customer name", "client name", "billing name", "фио", "имя", "клиент фио",
            "наименование", "піб", "ім'я", "імя",
        )),
        Role("email", TEXT, False, ("email", "e-mail", "customer email", "почта", "электронная почта",
                                   "ел пошта", "електронна пошта")),
        Role("phone", TEXT, False, ("phone", "phone number", "mobile", "телефон", "мобильный",
                                   "мобільний")),
        Role("signup_date", DATE, False, (
            "signup_date", "signup date", "registration date", "registered", "created at", "date created",
            "first seen", "дата регистрации", "дата создания", "дата реєстрації",
        )),
        Role("source", TEXT, False, (
            "source", "acquisition source", "acquisition channel", "utm_source", "channel", "источник",
            "канал привлечения", "джерело",
        )),
        Role("consent", FLAG, False, (
            "consent", "marketing consent", "accepts marketing", "opt in", "subscribed", "newsletter",
            "согласие", "согласие на рассылку", "подписка", "згода", "згода на розсилку",
        )),
        Role("city", TEXT, False, ("city", "town", "город", "місто")),
    ),
)

INTERACTIONS = TableSpec(
    "interactions",
    (
        Role("customer_id", ID, True, _CUSTOMER[:-4]),
        Role("date", DATE, True, (
            "date", "created at", "created", "opened", "timestamp", "contact date",
            "дата", "дата обращения", "дата создания", "дата звернення",
        )),
        Role("channel", TEXT, False, ("channel", "канал")),
        Role("touchpoint", TEXT, False, ("touchpoint", "touch point", "topic", "точка контакта",
                                        "тема", "точка контакту")),
        Role("type", TEXT, False, ("type", "kind", "interaction type", "тип", "вид обращения", "тип звернення")),
        Role("status", TEXT, False, ("status", "state", "статус", "состояние", "стан")),
        Role("csat", NUMBER, False, ("csat", "satisfaction", "rating", "оценка csat", "оценка", "оцінка",
                                    "оцінка csat")),
        Role("nps", NUMBER, False, ("nps", "nps score", "likelihood to recommend", "оценка nps", "оцінка nps")),
        Role("closed_date", DATE, False, ("closed_date", "closed at", "closed", "resolved at", "resolved",
                                          "дата закрытия", "дата решения", "закрыто", "дата закриття")),
    ),
)

COSTS = TableSpec(
    "costs",
    (
        Role("date", DATE, True, ("date", "day", "period", "month", "дата", "период", "месяц", "дата", "місяць")),
        Role("kind", TEXT, True, ("kind", "type", "cost type", "category", "вид", "тип", "вид затрат", "статья",
                                  "тип витрат", "стаття")),
        Role("amount", NUMBER, True, ("amount", "cost", "spend", "sum", "сумма", "затраты", "расходы", "сума",
                                      "витрати")),
    ),
)

SPECS = {spec.kind: spec for spec in (PURCHASES, CONTACTS, INTERACTIONS, COSTS)}

#: The purchase roles whose values label a line, added up per customer by custlens.labels.
LABEL_ROLES = ("category", "channel", "region")

#: Status words that mean an interaction is still open (folded with normalize_header).
OPEN_STATUSES = {"open", "opened", "new", "pending", "inprogress", "waiting", "reopened", "открыто", "открыт",
                 "открыта", "новое", "новый", "вработе", "ожидает", "відкрито", "відкритий", "нове", "вроботі"}


def is_open_status(status) -> bool:
    """Whether an interaction status means it is still open (English, Russian, Ukrainian words)."""
    return isinstance(status, str) and normalize_header(status) in OPEN_STATUSES


#: Cost kinds (folded): acquisition or retention.
COST_KINDS = {
    "acquisition": {"acquisition", "acquire", "cac", "marketing", "привлечение", "залучення"},
    "retention": {"retention", "retain", "loyalty", "удержание", "утримання"},
}

#: What counts as an empty cell besides a blank one (trimmed, any case): the pandas loader and the
#: DuckDB engine both read these as "no value".
MISSING_TEXT = ("", "nan", "null", "none", "n/a", "na", "#n/a", "-", "—")

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_header(header: object) -> str:
    """Fold a header for matching: lower case, ё→е, every run of non-letters/digits removed.

    >>> normalize_header(" Customer_ID ")
    'customerid'
    >>> normalize_header("Номер  заказа")
    'номерзаказа'
    """
    text = str(header).strip().lower().replace("ё", "е")
    return _NON_WORD.sub("", text)


def match_roles(headers: list[str], spec: TableSpec) -> dict[str, str]:
    """Map roles to the headers that name them: ``{role: header}``.

    Each header serves at most one role; each role takes the header whose synonym ranks
    first in its list. Roles are resolved in spec order, so ``customer_id`` claims
    ``Email`` before ``email`` could (in contacts, where e-mail is its own role, it is
    not a customer synonym).
    """
    folded = {}
    for header in headers:
        folded.setdefault(normalize_header(header), header)
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for role in spec.roles:
        for synonym in role.synonyms:
            header = folded.get(normalize_header(synonym))
            if header is not None and header not in taken:
                mapping[role.name] = header
                taken.add(header)
                break
    return mapping


def known_headers() -> set[str]:
    """Every synonym of every role, folded: what a header row is recognised by."""
    return {normalize_header(syn) for spec in SPECS.values() for role in spec.roles for syn in role.synonyms}


def find_header_row(rows: list[list[object]], limit: int = 30) -> int:
    """Index of the header among the first ``limit`` rows.

    Accounting and CRM reports (1C, Bitrix24) put a title, a period and filters above the
    table; the header is the row with the most cells naming a known role, when some row has
    at least two. Otherwise it is the first row.
    """
    known = known_headers()
    best, best_score = 0, 1
    for i, row in enumerate(rows[:limit]):
        score = sum(1 for cell in row if cell is not None and normalize_header(cell) in known)
        if score > best_score:
            best, best_score = i, score
    return best
