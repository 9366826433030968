"""The serving contract: the user-activity event in, the recommendation record out (pydantic v2).

`UserActivityEvent` is one Kinesis record of the sales platform (spec, "The user-activity event"). It is strict
and bounded, so a malformed or hostile record fails validation with a message naming the field, never later in
a query: exact types (no bool for a number, no number for a string; `quantity` is the one field that arrives as
a string and is coerced to a positive integer), bounded string lengths, product codes matching `PRODUCT_CODE`,
no control characters in free text, and at most `MAX_HISTORY_ACCEPTED` history entries. Unknown extra fields are
ignored (the platform may add fields before we read them).

**History cap.** An accepted history longer than `HISTORY_CAP` is capped, not rejected: every cart item is kept
(the most recent `HISTORY_CAP` of them if there are more), the remaining places go to the most recent browsed
items (the history is in the order the platform appended it, oldest first), and the kept entries stay in their
original order. `history_dropped` on the record says how many entries were left out.

`Recommendation` is the recommendation record (spec, "The recommendation record"): the event's fields, then
`recommended_items` (best first), `similar_items` (one entry per browsed product, cart first), `model_version`,
and `fallback` / `fallback_reason` when the answer came (partly) from the popular-products fallback.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

PRODUCT_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$"
"""`products.productCode` is VARCHAR(15): letters, digits, `_` and `-` (e.g. `S18_3232`)."""
SESSION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
"""A UUID or any opaque token of at most 64 safe characters."""
FREE_TEXT = r"^[^\x00-\x1f\x7f]+$"
"""City and country: any printable text (accents, apostrophes, quotes), no control characters (NUL included)."""
MAX_TEXT = 80
MAX_QUANTITY = 9_999
MAX_CREDIT_LIMIT = 99_999_999.99
"""`customers.creditLimit` is DECIMAL(10,2)."""
MAX_CUSTOMER_NUMBER = 2**31 - 1
"""`customerNumber` is an INT (and the user tables' key an `integer`)."""
MAX_HISTORY_ACCEPTED = 1_000
"""Longer histories are absurd (a bot, a replay bug): the record fails validation."""
HISTORY_CAP = 50
"""Accepted histories are capped to this many entries (see the module docstring for which are kept)."""

ProductCode = Annotated[str, Field(strict=True, pattern=PRODUCT_CODE)]
FreeText = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_TEXT, pattern=FREE_TEXT)]


class FallbackReason(StrEnum):
    """Why an answer (or part of it) came from the popular-products fallback."""

    DATABASE_UNAVAILABLE = "database_unavailable"
    """The vector DB did not answer within the deadline (down, stopped, slow, or its circuit is open)."""
    NO_LIVE_MODEL = "no_live_model"
    """The vector DB answered but no model version is live yet."""
    NO_USER_VECTOR = "no_user_vector"
    """The customer has no stored vector and no user-feature model is available for the live version."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)


class BrowsedItem(_Strict):
    """One browse-history entry."""

    product_code: ProductCode
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    in_shopping_cart: StrictBool

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity_from_string(cls, value: Any) -> int:
        """`"2"` (as the platform sends it) or `2`; anything else (`"0"`, `"1.5"`, `"two"`, `true`, `2.0`) fails."""
        if isinstance(value, bool):
            raise ValueError("quantity must be a positive whole number as a string (e.g. \"2\"), got a boolean")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and 0 < len(value) <= 4 and value.isascii() and value.isdigit():
            return int(value)
        got = f"a string of {len(value)} characters" if isinstance(value, str) else type(value).__name__
        raise ValueError(f"quantity must be a positive whole number of at most 4 digits as a string (e.g. \"2\"), "
                         f"got {got}")


class UserActivityEvent(_Strict):
    """One user-activity event (a Kinesis record); see the module docstring for the bounds and the history cap."""

    session_id: Annotated[str, Field(strict=True, pattern=SESSION_ID)]
    customer_number: Annotated[StrictInt, Field(ge=1, le=MAX_CUSTOMER_NUMBER)]
    city: FreeText
    country: FreeText
    credit_limit: Annotated[float, Field(strict=True, ge=0, le=MAX_CREDIT_LIMIT, allow_inf_nan=False)] | None
    browse_history: Annotated[list[BrowsedItem], Field(max_length=MAX_HISTORY_ACCEPTED)]
    history_dropped: int = Field(default=0, ge=0, description="entries left out by the history cap")

    @field_validator("credit_limit", mode="before")
    @classmethod
    def _no_boolean_credit(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("credit_limit must be a number, got a boolean")
        return value

    @model_validator(mode="after")
    def _cap_history(self) -> UserActivityEvent:
        history = self.browse_history
        if len(history) <= HISTORY_CAP:
            return self
        kept = capped_positions(history, HISTORY_CAP)
        object.__setattr__(self, "browse_history", [history[i] for i in kept])
        object.__setattr__(self, "history_dropped", self.history_dropped + len(history) - len(kept))
        return self

    @property
    def cart(self) -> list[str]:
        """Product codes in the cart, in history order, without repeats."""
        return list(dict.fromkeys(item.product_code for item in self.browse_history if item.in_shopping_cart))

    @property
    def browsed(self) -> list[str]:
        """Every product code of the history without repeats: cart items first, then the others, most recent
        first (the order `similar_items` answers in)."""
        recent_first = [item.product_code for item in reversed(self.browse_history) if not item.in_shopping_cart]
        return list(dict.fromkeys([*self.cart, *recent_first]))


def capped_positions(history: list[BrowsedItem], cap: int) -> list[int]:
    """Positions of the entries the history cap keeps, in original order: every cart item (the latest `cap` if
    more), then the latest other entries up to `cap`."""
    cart = [i for i, item in enumerate(history) if item.in_shopping_cart][-cap:]
    room = cap - len(cart)
    others = [i for i, item in enumerate(history) if not item.in_shopping_cart][-room:] if room else []
    return sorted(cart + others)


class RecommendedItem(_Strict):
    """A product "based on your profile": `score` is the model's affinity (user . item), higher is better."""

    id: str
    score: float


class SimilarItem(_Strict):
    """A product near a browsed one: `distance` is the cosine distance between item vectors, lower is nearer."""

    id: str
    distance: float


class SimilarItems(_Strict):
    """The products nearest to one browsed product (never the product itself)."""

    product_code: str
    similar_items: list[SimilarItem]


class Recommendation(UserActivityEvent):
    """The recommendation record: the event (history capped), the two kinds of recommendation, and provenance."""

    recommended_items: list[RecommendedItem]
    similar_items: list[SimilarItems]
    model_version: str | None = Field(description="the live model version that answered; None for a fallback "
                                                  "answer given without reaching the vector DB")
    fallback: bool = False
    fallback_reason: str | None = None

    @model_validator(mode="after")
    def _reason_iff_fallback(self) -> Recommendation:
        if self.fallback != (self.fallback_reason is not None):
            raise ValueError("fallback_reason is set exactly when fallback is true")
        return self
