"""Realistic user-activity sessions, as the sales platform writes them to Kinesis (pure: no I/O).

A session is one JSON event in the spec's shape (`session_id`, `customer_number`, `city`, `country`,
`credit_limit`, `browse_history` of `{product_code, quantity (a string), in_shopping_cart}`). The mix:

- known customers, drawn from the seeded source with their own city, country and credit limit;
- unknown customers (new sign-ups: a customer number the source has never seen, a city from the source's
  cities, sometimes one it has never seen);
- browse histories mostly short (1-8 items), some empty, some long (up to `long_history_max`), with a
  share of items in the cart and now and then a product the catalogue no longer has;
- a configurable share of malformed records (`malformed.CORPUS`), as real streams carry them.

Everything comes from one `random.Random(seed)`, so a seed always gives the same records.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from devstack.streaming import malformed

UNKNOWN_CUSTOMER_BASE = 900_000
"""New customers get numbers from here up: above any the seeded source hands out."""
UNSEEN_CITIES = (("Reykjavík", "Iceland"), ("Ōsaka", "Japan"), ("São Paulo", "Brazil"), ("Kraków", "Poland"))
RETIRED_PRODUCTS = ("S99_0001", "S99_0002", "S99_0003")
"""Product codes the catalogue does not have (discontinued, or a typo in the platform's cache)."""


@dataclass(frozen=True)
class Customer:
    customer_number: int
    city: str
    country: str
    credit_limit: Decimal


@dataclass(frozen=True)
class Catalogue:
    """What the generator draws from: the source's customers and product codes."""

    customers: Sequence[Customer]
    product_codes: Sequence[str]

    def __post_init__(self) -> None:
        if not self.customers or not self.product_codes:
            raise ValueError("the catalogue needs customers and products: seed the source first "
                             "(`python -m devstack seed`)")


@dataclass(frozen=True)
class SessionMix:
    """The shares that shape a stream of sessions."""

    unknown_customer_share: float = 0.15
    empty_history_share: float = 0.05
    cart_share: float = 0.35
    """Share of sessions with items in the cart."""
    long_history_share: float = 0.02
    long_history_max: int = 600
    retired_product_share: float = 0.01
    malformed_share: float = 0.05

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name != "long_history_max" and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1, got {value}")
        if self.long_history_max < 9:
            raise ValueError("long_history_max must be at least 9 (longer than a short history)")


@dataclass(frozen=True)
class ActivityRecord:
    """One Kinesis record: its bytes, its partition key, and whether it was made malformed on purpose."""

    data: bytes
    partition_key: str
    malformed_kind: str | None = None

    @property
    def malformed(self) -> bool:
        return self.malformed_kind is not None


def _session_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _history(rng: random.Random, catalogue: Catalogue, mix: SessionMix) -> list[dict[str, object]]:
    draw = rng.random()
    if draw < mix.empty_history_share:
        return []
    if draw < mix.empty_history_share + mix.long_history_share:
        length = rng.randint(9, mix.long_history_max)
    else:
        length = rng.randint(1, 8)
    in_cart = rng.random() < mix.cart_share
    items = []
    for _ in range(length):
        if rng.random() < mix.retired_product_share:
            code = rng.choice(RETIRED_PRODUCTS)
        else:
            code = rng.choice(catalogue.product_codes)
        items.append({
            "product_code": code,
            "quantity": str(rng.choice((1, 1, 1, 1, 2, 2, 3, 4, 10))),
            "in_shopping_cart": in_cart and rng.random() < 0.4,
        })
    if in_cart and items and not any(i["in_shopping_cart"] for i in items):
        items[-1]["in_shopping_cart"] = True
    return items


def session_event(rng: random.Random, catalogue: Catalogue, mix: SessionMix) -> dict[str, object]:
    """One well-formed event in the spec's shape."""
    if rng.random() < mix.unknown_customer_share:
        known = rng.choice(catalogue.customers)
        city, country = rng.choice(UNSEEN_CITIES) if rng.random() < 0.25 else (known.city, known.country)
        customer_number = UNKNOWN_CUSTOMER_BASE + rng.randrange(100_000)
        credit_limit: float | int = rng.choice((0, 10_000, 50_000, 120_000))
    else:
        c = rng.choice(catalogue.customers)
        customer_number, city, country = c.customer_number, c.city, c.country
        # As the platform sends it: a number, whole when it has no cents.
        credit_limit = int(c.credit_limit) if c.credit_limit == int(c.credit_limit) else float(c.credit_limit)
    return {
        "session_id": _session_id(rng),
        "customer_number": customer_number,
        "city": city,
        "country": country,
        "credit_limit": credit_limit,
        "browse_history": _history(rng, catalogue, mix),
    }


def activity_records(catalogue: Catalogue, count: int, *, mix: SessionMix | None = None,
                     seed: int = 0) -> Iterator[ActivityRecord]:
    """`count` records: sessions, and malformed ones at `mix.malformed_share`, deterministic for a seed."""
    mix = mix or SessionMix()
    rng = random.Random(seed)
    kinds = sorted(malformed.CORPUS)
    for _ in range(count):
        if rng.random() < mix.malformed_share:
            kind = rng.choice(kinds)
            yield ActivityRecord(malformed.CORPUS[kind](), _session_id(rng), kind)
            continue
        event = session_event(rng, catalogue, mix)
        yield ActivityRecord(json.dumps(event, ensure_ascii=False).encode(), str(event["session_id"]))
