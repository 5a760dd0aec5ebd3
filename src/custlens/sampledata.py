"""Realistic, seeded demo data: purchases (order lines), contacts and interactions.

The generator follows the buy-till-you-die story of the CLV literature, so that every
report has something to find:

- each customer buys at their own rate (gamma-distributed across customers) and, after
  each order, stops for good with their own probability (beta-distributed): many lapse;
- basket value is log-normal per customer, so about 20% of customers bring most revenue;
- on the *change date* (a loyalty programme) every customer's buying rate rises by
  ``uplift`` and support quality (CSAT) improves, so before/after comparisons move;
- about 2% of lines are returned later (negative lines on a separate return document),
  and a few guest checkouts have no customer id;
- each line has its cost of goods (45–75% of its amount, by product), for margins.

``locale="ru"`` writes what Russian accounting/CRM systems export: cp1251, ``;``,
decimal commas, ``dd.mm.yyyy`` dates and Russian headers and texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

START, END, CHANGE = pd.Timestamp("2024-01-01"), pd.Timestamp("2025-12-31"), pd.Timestamp("2025-01-01")

CATALOG = {
    "en": {
        "Coffee": ["Espresso beans 1kg", "Filter coffee 250g", "Decaf beans 500g", "Cold brew pack"],
        "Tea": ["Green tea 100g", "Black tea 250g", "Herbal tea set", "Matcha 50g"],
        "Equipment": ["Espresso machine", "Burr grinder", "Pour-over kit", "Milk frother", "Kettle"],
        "Accessories": ["Travel mug", "Ceramic cup set", "Scale", "Filters x100", "Tamper"],
        "Sweets": ["Dark chocolate", "Biscotti", "Almond cookies", "Caramel syrup"],
        "Gifts": ["Gift box small", "Gift box large", "Gift card 50", "Tasting set"],
    },
    "ru": {
        "Кофе": ["Кофе в зёрнах 1 кг", "Молотый кофе 250 г", "Кофе без кофеина 500 г", "Колд брю"],
        "Чай": ["Зелёный чай 100 г", "Чёрный чай 250 г", "Травяной сбор", "Матча 50 г"],
        "Техника": ["Кофемашина", "Кофемолка", "Набор для пуровера", "Вспениватель молока", "Чайник"],
        "Аксессуары": ["Термокружка", "Набор чашек", "Весы", "Фильтры 100 шт", "Темпер"],
        "Сладости": ["Горький шоколад", "Бискотти", "Миндальное печенье", "Карамельный сироп"],
        "Подарки": ["Подарочный набор малый", "Подарочный набор большой", "Подарочная карта", "Дегустационный набор"],
    },
}
PRICE_RANGE = {"Coffee": (9, 40), "Tea": (6, 30), "Equipment": (60, 700), "Accessories": (8, 60),
               "Sweets": (3, 15), "Gifts": (25, 120)}
RUB_PER_UNIT = 90

TEXT = {
    "en": {
        "channels": ["web", "app", "store", "phone"],
        "sources": ["organic", "ads", "referral", "social", "marketplace"],
        "cities": ["London", "Manchester", "Leeds", "Bristol", "Glasgow", "Cardiff", "Belfast", "Liverpool"],
        "first_m": ["James", "Oliver", "Harry", "George", "Noah", "Jack", "Leo", "Arthur", "Oscar", "Henry"],
        "first_f": ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Grace", "Emily", "Sophie"],
        "last": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Evans",
                 "Thomas", "Roberts", "Walker", "Wright", "Green", "Hall", "Wood"],
        "i_channels": ["email", "phone", "chat", "store"],
        "touchpoints": ["delivery", "payment", "product quality", "returns", "website"],
        "types": ["question", "complaint", "support", "survey"],
        "status": ("open", "closed"),
        "consent": ("yes", "no"),
    },
    "ru": {
        "channels": ["сайт", "приложение", "магазин", "телефон"],
        "sources": ["поиск", "реклама", "рекомендация", "соцсети", "маркетплейс"],
        "cities": ["Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", "Самара", "Краснодар",
                   "Пермь"],
        "first_m": ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Иван", "Михаил"],
        "first_f": ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина"],
        "last": ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
                 "Новиков", "Фёдоров", "Морозов", "Волков"],
        "i_channels": ["email", "телефон", "чат", "магазин"],
        "touchpoints": ["доставка", "оплата", "качество товара", "возврат", "сайт"],
        "types": ["вопрос", "жалоба", "обращение", "опрос"],
        "status": ("открыто", "закрыто"),
        "consent": ("да", "нет"),
    },
}
HEADERS_RU = {
    "purchases": {"order_id": "Номер заказа", "customer_id": "Клиент", "date": "Дата", "product": "Товар",
                  "category": "Категория", "channel": "Канал", "quantity": "Количество", "unit_price": "Цена",
                  "amount": "Сумма", "cost": "Себестоимость"},
    "contacts": {"customer_id": "Клиент", "name": "ФИО", "email": "Email", "phone": "Телефон",
                 "signup_date": "Дата регистрации", "source": "Источник", "consent": "Согласие на рассылку",
                 "city": "Город"},
    "interactions": {"customer_id": "Клиент", "date": "Дата", "channel": "Канал", "touchpoint": "Точка контакта",
                     "type": "Тип", "status": "Статус", "csat": "Оценка CSAT", "nps": "NPS"},
}
_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
                      "s", "t", "u", "f", "kh", "ts", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya"]))


@dataclass
class SampleData:
    purchases: pd.DataFrame
    contacts: pd.DataFrame
    interactions: pd.DataFrame


def generate(customers: int = 2000, *, seed: int = 7, locale: str = "en", uplift: float = 1.4) -> SampleData:
    """Generate the three tables in canonical column names (typed)."""
    if locale not in TEXT:
        raise ValueError(f"locale must be one of {', '.join(TEXT)}")
    rng = np.random.default_rng(seed)
    text = TEXT[locale]
    n = customers
    span = (END - START).days
    ids = np.array([f"C{i:06d}" for i in range(1, n + 1)])
    acquired = rng.integers(0, span - 20, n)
    rate = rng.gamma(0.9, 1 / 45, n)  # orders per day while alive
    dropout = rng.beta(1.3, 4.5, n)
    value = rng.lognormal(0.0, 1.0, n)
    favourite = rng.integers(0, len(CATALOG["en"]), n)
    preferred_channel = rng.choice(len(text["channels"]), n, p=[0.45, 0.25, 0.2, 0.1])

    # Purchase times: a Poisson process in "operational time" that runs `uplift` times faster after CHANGE.
    n_orders = np.minimum(rng.geometric(dropout), 250)
    owner = np.repeat(np.arange(n), n_orders)
    first_in_run = np.r_[0, np.cumsum(n_orders)[:-1]]
    waits = rng.exponential(1.0, owner.size) / rate[owner]
    waits[first_in_run] = 0.0
    change = (CHANGE - START).days
    start_op = np.where(acquired < change, acquired, change + (acquired - change) * uplift)
    cum = np.cumsum(waits)
    op_time = start_op[owner] + cum - np.repeat(cum[first_in_run], n_orders)
    day = np.where(op_time < change, op_time, change + (op_time - change) / uplift)
    keep = day <= span
    owner, day = owner[keep], np.floor(day[keep]).astype(int)

    # Order lines.
    categories = list(CATALOG["en"])
    lines_per_order = 1 + rng.poisson(0.35 + 0.25 * np.log1p(value[owner]))
    order_of_line = np.repeat(np.arange(owner.size), lines_per_order)
    line_owner = owner[order_of_line]
    pick_favourite = rng.random(order_of_line.size) < 0.55
    category = np.where(pick_favourite, favourite[line_owner], rng.integers(0, len(categories), order_of_line.size))
    product_index = rng.integers(0, 5, order_of_line.size)
    product_names = [CATALOG[locale][list(CATALOG[locale])[c]] for c in range(len(categories))]
    product_index = product_index % np.array([len(p) for p in product_names])[category]
    # One line per product in an order: a second pick of the same product is dropped.
    unique_line = ~pd.DataFrame({"o": order_of_line, "c": category, "p": product_index}).duplicated().to_numpy()
    order_of_line, line_owner = order_of_line[unique_line], line_owner[unique_line]
    category, product_index = category[unique_line], product_index[unique_line]
    price_table = _prices(rng)
    unit_price = price_table[category, product_index]
    if locale == "ru":
        unit_price = np.round(unit_price * RUB_PER_UNIT, -1) - 1  # 899, 1 499 …
    quantity = 1 + rng.poisson(0.25 * value[line_owner])
    quantity = np.minimum(quantity, 20)
    amount = np.round(quantity * unit_price, 2)
    cost = np.round(amount * _cost_shares(seed, price_table.shape)[category, product_index], 2)
    seconds = rng.integers(8 * 3600, 22 * 3600, owner.size)
    order_time = START + pd.to_timedelta(day, unit="D") + pd.to_timedelta(seconds, unit="s")
    channel = np.where(rng.random(owner.size) < 0.8, preferred_channel[owner],
                       rng.integers(0, len(text["channels"]), owner.size))
    order_rank = np.argsort(np.asarray(order_time), kind="stable")
    order_number = np.empty(owner.size, dtype=np.int64)
    order_number[order_rank] = np.arange(1, owner.size + 1)
    purchases = pd.DataFrame({
        "order_id": [f"O{k:07d}" for k in order_number[order_of_line]],
        "customer_id": ids[line_owner],
        "date": order_time[order_of_line],
        "product": [product_names[c][p] for c, p in zip(category, product_index)],
        "category": [list(CATALOG[locale])[c] for c in category],
        "channel": np.array(text["channels"])[channel[order_of_line]],
        "quantity": quantity.astype(np.int64),
        "unit_price": unit_price.astype(float),
        "amount": amount,
        "cost": cost,
    })

    # Returns: ~2% of lines come back 3–30 days later on a return document of their own.
    returned = np.flatnonzero(rng.random(len(purchases)) < 0.02)
    back = purchases.iloc[returned].copy()
    back["date"] = back["date"] + pd.to_timedelta(rng.integers(3, 31, len(back)), unit="D")
    back = back[back["date"] <= END + pd.Timedelta(hours=23)]
    back["order_id"] = [f"R{k:07d}" for k in range(1, len(back) + 1)]
    back["quantity"] = -back["quantity"]
    back["amount"] = -back["amount"]
    back["cost"] = -back["cost"]
    # Guest checkouts: a few orders with no customer id.
    guests = purchases.sample(frac=0.003, random_state=seed).copy()
    guests["customer_id"] = ""
    guests["order_id"] = [f"G{k:07d}" for k in range(1, len(guests) + 1)]
    purchases = pd.concat([purchases, back, guests], ignore_index=True)
    purchases = purchases.sort_values(["date", "order_id"], kind="stable", ignore_index=True)

    first_day = pd.Series(day).groupby(owner).min().reindex(range(n)).to_numpy()
    last_day = pd.Series(day).groupby(owner).max().reindex(range(n)).to_numpy()
    orders_count = np.bincount(owner, minlength=n)
    contacts = _contacts(rng, ids, first_day, text, locale)
    interactions = _interactions(rng, ids, first_day, last_day, orders_count, text, span)
    return SampleData(purchases=purchases, contacts=contacts, interactions=interactions)


def _cost_shares(seed: int, shape) -> np.ndarray:
    """Each product's cost of goods as a share of its price, 45–75%: drawn from a random stream
    of its own, so that the other columns are what they were before costs were added."""
    return np.random.default_rng([seed, 1]).uniform(0.45, 0.75, shape)


def _prices(rng) -> np.ndarray:
    table = np.zeros((len(PRICE_RANGE), 5))
    for i, (low, high) in enumerate(PRICE_RANGE.values()):
        table[i] = np.round(np.exp(rng.uniform(np.log(low), np.log(high), 5)), 0) - 0.01
    return table


def _contacts(rng, ids, first_day, text, locale) -> pd.DataFrame:
    n = len(ids)
    prospects = max(1, n // 10)
    all_ids = np.r_[ids, [f"C{i:06d}" for i in range(n + 1, n + prospects + 1)]]
    total = len(all_ids)
    female = rng.random(total) < 0.5
    first_m, first_f, last = text["first_m"], text["first_f"], text["last"]
    first = np.where(female, np.array(first_f)[rng.integers(0, len(first_f), total)],
                     np.array(first_m)[rng.integers(0, len(first_m), total)])
    surname = np.array(last)[rng.integers(0, len(last), total)]
    if locale == "ru":
        surname = np.where(female, np.char.add(surname, "а"), surname)
    names = np.char.add(np.char.add(first, " "), surname)
    emails = [f"{_latin(f)}.{_latin(s)}{k % 97}@example.{'com' if k % 3 else 'org'}"
              for k, (f, s) in enumerate(zip(first, surname))]
    digits = rng.integers(0, 10_000_000, total)
    if locale == "ru":
        phones = [f"+7 9{d // 100000 % 100:02d} {d // 100 % 1000:03d}-{d % 100:02d}-{(d * 7) % 100:02d}"
                  if k % 4 else f"8 (9{d // 100000 % 100:02d}) {d // 100 % 1000:03d}-{d % 100:02d}-{(d * 7) % 100:02d}"
                  for k, d in enumerate(digits)]
    else:
        phones = [f"+44 7700 {d % 1_000_000:06d}" for d in digits]
    span = (END - START).days
    known_first = np.r_[first_day, rng.integers(0, span, prospects)].astype(float)
    known_first = np.where(np.isnan(known_first), rng.integers(0, span, total), known_first)
    signup = START + pd.to_timedelta(np.maximum(known_first - rng.integers(0, 60, total), -90), unit="D")
    yes, no = text["consent"]
    return pd.DataFrame({
        "customer_id": all_ids,
        "name": names,
        "email": emails,
        "phone": phones,
        "signup_date": signup.normalize(),
        "source": np.array(text["sources"])[rng.choice(5, total, p=[0.35, 0.25, 0.15, 0.15, 0.1])],
        "consent": np.where(rng.random(total) < 0.7, yes, no),
        "city": np.array(text["cities"])[rng.integers(0, len(text["cities"]), total)],
    })


def _latin(word: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in word.lower())


def _interactions(rng, ids, first_day, last_day, orders_count, text, span) -> pd.DataFrame:
    buyers = np.flatnonzero(orders_count > 0)
    counts = rng.poisson(0.25 * orders_count[buyers] + 0.2)
    who = np.repeat(buyers, counts)
    start = first_day[who]
    stop = np.minimum(last_day[who] + 60, span)
    day = (start + rng.random(who.size) * (stop - start + 1)).astype(int).clip(0, span)
    kinds = rng.choice(4, who.size, p=[0.35, 0.15, 0.3, 0.2])  # question, complaint, support, survey
    touch = rng.choice(5, who.size, p=[0.3, 0.15, 0.2, 0.15, 0.2])
    recent = day > span - 30
    is_open = np.where(recent, rng.random(who.size) < 0.5, rng.random(who.size) < 0.03) & (kinds != 3)
    after = day >= (CHANGE - START).days
    base = np.array([3.4, 4.0, 3.9, 3.5, 4.1])[touch] + np.where(after, 0.4, 0.0) - np.where(kinds == 1, 0.8, 0)
    csat = np.clip(np.round(base + rng.normal(0, 0.9, who.size)), 1, 5)
    has_csat = (kinds != 3) & ~is_open & (rng.random(who.size) < 0.6)
    nps = np.clip(np.round(7.2 + np.where(after, 0.8, 0.0) + rng.normal(0, 2.2, who.size)), 0, 10)
    open_word, closed_word = text["status"]
    frame = pd.DataFrame({
        "customer_id": ids[who],
        "date": START + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(9 * 60, 20 * 60, who.size),
                                                                            unit="min"),
        "channel": np.array(text["i_channels"])[np.where(kinds == 3, 0, rng.integers(0, 4, who.size))],
        "touchpoint": np.array(text["touchpoints"])[touch],
        "type": np.array(text["types"])[kinds],
        "status": np.where(is_open, open_word, closed_word),
        "csat": pd.array(np.where(has_csat, csat, np.nan)).astype("Int64"),
        "nps": pd.array(np.where(kinds == 3, nps, np.nan)).astype("Int64"),
    })
    return frame.sort_values(["date", "customer_id"], kind="stable", ignore_index=True)


def write(data: SampleData, folder: str | Path, *, locale: str = "en", fmt: str = "csv") -> list[Path]:
    """Write purchases, contacts and interactions into ``folder``; returns the paths.

    ``en`` CSV: UTF-8, ``,``, ISO dates. ``ru`` CSV: cp1251, ``;``, decimal commas with a
    non-breaking space between thousands, ``dd.mm.yyyy`` dates, Russian headers.
    Parquet keeps the types.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("purchases", "contacts", "interactions"):
        frame = getattr(data, name)
        path = folder / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        elif locale == "ru":
            _ru_text(frame).rename(columns=HEADERS_RU[name]).to_csv(
                path, sep=";", index=False, encoding="cp1251", lineterminator="\r\n")
        else:
            _en_text(frame).to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    return written


def _en_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "date" in out:
        out["date"] = out["date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    if "signup_date" in out:
        out["signup_date"] = out["signup_date"].dt.strftime("%Y-%m-%d")
    for name in ("unit_price", "amount", "cost"):
        if name in out:
            out[name] = out[name].map(lambda v: f"{v:.2f}")
    return out


def _ru_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "date" in out:
        out["date"] = out["date"].dt.strftime("%d.%m.%Y" if "order_id" in out else "%d.%m.%Y %H:%M")
    if "signup_date" in out:
        out["signup_date"] = out["signup_date"].dt.strftime("%d.%m.%Y")
    for name in ("unit_price", "amount", "cost"):
        if name in out:
            out[name] = out[name].map(_ru_number)
    return out


def _ru_number(value: float) -> str:
    """1234.5 → '1 234,50' with a non-breaking space, as Excel and 1C write it."""
    text = f"{abs(value):,.2f}".replace(",", "\u00a0").replace(".", ",")
    return ("-" if value < 0 else "") + text
