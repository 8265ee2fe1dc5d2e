"""``Money``: an amount in minor units with its currency."""

from __future__ import annotations

import strawberry


@strawberry.type(description="An amount of money in minor units (cents), with its currency.")
class Money:
    amount: int = strawberry.field(description="Amount in minor units: 1200 is 12.00.")
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. `USD`.")
