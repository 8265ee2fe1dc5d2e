"""Realistic fake people, addresses and line items drawn from the built-in word lists."""

from __future__ import annotations

import random
import unicodedata

from sandbox import data
from sandbox.model import Json


def ascii_slug(text: str) -> str:
    """Lowercase ASCII form of a name, for e-mail addresses."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def person_email(rng: random.Random, first: str, last: str) -> str:
    number = rng.choice(("", "", str(rng.randint(1, 99))))
    return f"{ascii_slug(first)}.{ascii_slug(last)}{number}@{rng.choice(data.EMAIL_DOMAINS)}"


def address(rng: random.Random) -> Json:
    """A plausible postal address in one of the known countries."""
    country = rng.choice(sorted(data.COUNTRIES))
    cities, streets, zip_format = data.COUNTRIES[country]
    city, region = rng.choice(cities)
    zip_code = "".join(
        str(rng.randint(0, 9))
        if ch == "#"
        else rng.choice("ABDEFHJLNPRSTUWXYZ")
        if ch == "A"
        else ch
        for ch in zip_format
    )
    return {
        "object": "address",
        "line_1": f"{rng.choice(streets)} {rng.randint(1, 180)}",
        "line_2": rng.choice((None, None, None, f"Apt {rng.randint(1, 40)}")),
        "line_3": None,
        "zip_code": zip_code,
        "locality": city,
        "region": region,
        "country": country,
    }


def line_item(rng: random.Random, currency: str) -> Json:
    item_id, description, unit_amount = rng.choice(data.CATALOGUE[currency])
    quantity = rng.choice((1, 1, 1, 2, 3))
    discount = rng.choice((0, 0, 0, 0, unit_amount * quantity // 10))
    return {
        "object": "subscription_item",
        "item_id": item_id,
        "description": description,
        "quantity": quantity,
        "discount": discount,
        "unit_amount": unit_amount,
        "total_amount": quantity * unit_amount - discount,
    }


def invoice_item(item: Json, currency: str, start: int | None, end: int | None) -> Json:
    return {
        **item,
        "object": "invoice_item",
        "currency": currency,
        "date_range_start": start,
        "date_range_end": end,
    }
