"""Records of the account and its sites: the account, Spaces, customers, captured emails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.errors import MalformedPayload
from resolvers.records.readers import Json, _expect_object, _int, _opt_str, _str


@dataclass(slots=True)
class AccountRecord:
    created: int
    name: str | None
    email: str | None
    avatar_image_url: str | None
    referral_code: str | None


@dataclass(slots=True)
class SpaceRecord:
    id: int
    created: int
    url: str | None


@dataclass(slots=True)
class CustomerRecord:
    id: str
    created: int
    name: str | None
    email: str | None
    space: SpaceRecord | None
    partial: bool = False


@dataclass(slots=True)
class CapturedEmailRecord:
    id: str
    created: int
    email: str
    space: SpaceRecord | None


def parse_account(obj: Any) -> AccountRecord:
    o = _expect_object(obj, "account")
    return AccountRecord(
        created=_int(o, "created", "account"),
        name=_opt_str(o, "name"),
        email=_opt_str(o, "email"),
        avatar_image_url=_opt_str(o, "avatar_image_url"),
        referral_code=_opt_str(o, "referral_code"),
    )


def parse_space(obj: Any) -> SpaceRecord:
    o = _expect_object(obj, "space")
    return SpaceRecord(
        id=_int(o, "id", "space"), created=_int(o, "created", "space"), url=_opt_str(o, "url")
    )


def customer_identity(o: Json) -> str:
    """A customer's ID, spelled ``id`` or (in some event payloads) ``token``."""
    value = o.get("id")
    if type(value) is str:
        return value
    if value is None:
        value = o.get("token")
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedPayload("upstream customer has neither 'id' nor 'token'")
    return str(value)


def parse_customer(obj: Any) -> CustomerRecord:
    o = _expect_object(obj, "customer")
    cid = customer_identity(o)
    space_obj = o.get("space")
    space = parse_space(space_obj) if isinstance(space_obj, dict) else None
    created = o.get("created")
    partial = space is None or created is None or "email" not in o or "name" not in o
    return CustomerRecord(
        id=cid,
        created=_int(o, "created", "customer") if created is not None else 0,
        name=_opt_str(o, "name"),
        email=_opt_str(o, "email"),
        space=space,
        partial=partial,
    )


def parse_captured_email(obj: Any) -> CapturedEmailRecord:
    o = _expect_object(obj, "captured_email")
    space_obj = o.get("space")
    return CapturedEmailRecord(
        id=_str(o, "id", "captured_email"),
        created=_int(o, "created", "captured_email"),
        email=_str(o, "email", "captured_email"),
        space=parse_space(space_obj) if isinstance(space_obj, dict) else None,
    )
