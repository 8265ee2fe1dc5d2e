"""``Address``: a postal address on an invoice."""

from __future__ import annotations

import strawberry

from resolvers.records import AddressRecord


@strawberry.type(description="A postal address (billing or shipping).")
class Address:
    line1: str | None = strawberry.field(description="First address line.")
    line2: str | None = strawberry.field(description="Second address line.")
    line3: str | None = strawberry.field(description="Third address line.")
    zip_code: str | None = strawberry.field(description="Postal code.")
    locality: str | None = strawberry.field(description="City or town.")
    region: str | None = strawberry.field(description="State, county or region.")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 country code.")

    @classmethod
    def from_record(cls, rec: AddressRecord | None) -> Address | None:
        if rec is None:
            return None
        return cls(
            line1=rec.line1,
            line2=rec.line2,
            line3=rec.line3,
            zip_code=rec.zip_code,
            locality=rec.locality,
            region=rec.region,
            country=rec.country,
        )
