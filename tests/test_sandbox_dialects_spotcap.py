"""The sandbox in the spotcap dialect: the contract of docs/dialects.md, each refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.test_sandbox_dialects import (
    ROOT,
    SPOTCAP_ACCEPT,
    bare,
    basic,
    listed,
    make_app,
    speaker,
)


@pytest.fixture
def app() -> Starlette:
    return make_app("spotcap")


@pytest.fixture
async def alice(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with await speaker(app, "spotcap") as client:
        yield client


def refused(answer: httpx.Response, status: int, id: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = dict(answer.json())
    assert body["id"] == id and isinstance(body["message"], str) and body["message"]
    return body


def ids(answer: httpx.Response) -> list[str]:
    return [str(o["id"] if "id" in o else o["token"]) for o in answer.json()]


# -- version and authentication ----------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [None, "application/json", "*/*", "application/vnd.spaces+json", "text/html; version=1"],
)
async def test_missing_version(app: Starlette, accept: str | None) -> None:
    headers = {"Authorization": "demo-alice"} | ({"Accept": accept} if accept else {})
    async with bare(app, **headers) as client:
        for path in ("/account", "/customers", "/no/such/route"):
            refused(await client.get(path), 400, "missing_version")


async def test_unknown_version_is_named(app: Starlette) -> None:
    async with bare(app, Authorization="demo-alice") as client:
        answer = await client.get(
            "/account", headers={"Accept": "application/vnd.spaces+json; version=7"}
        )
    assert "version 7" in refused(answer, 400, "unknown_version")["message"]


async def test_version_is_checked_before_credentials(app: Starlette) -> None:
    async with bare(app) as client:
        refused(await client.get("/account"), 400, "missing_version")


async def test_accept_with_several_ranges(app: Starlette) -> None:
    accept = f"application/json;q=0.5, {SPOTCAP_ACCEPT}"
    async with bare(app, Authorization="demo-alice", Accept=accept) as client:
        assert (await client.get("/account")).status_code == 200


@pytest.mark.parametrize(
    "authorization", [None, "", basic("demo-alice"), "Bearer demo-alice", "demo-nobody"]
)
async def test_raw_token_only(app: Starlette, authorization: str | None) -> None:
    headers = {"Accept": SPOTCAP_ACCEPT}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with bare(app, **headers) as client:
        refused(await client.get("/account"), 401, "unauthorized")
    async with bare(app, Accept=SPOTCAP_ACCEPT, Authorization="demo-bob") as client:
        assert (await client.get("/account")).json()["name"] == "Bob Berg"


# -- paths ---------------------------------------------------------------------------------


async def test_dash_separated_paths_and_underscores_404(alice: httpx.AsyncClient) -> None:
    for path in ("/captured-emails", "/resource-subscriptions"):
        assert (await alice.get(path)).is_success
    for path in ("/captured_emails", "/resource_subscriptions", "/resource_subscriptions/rs_x"):
        refused(await alice.get(path), 404, "not_found")
    refused(await alice.put("/customers"), 405, "method_not_allowed")
    assert (await alice.put("/customers")).headers["allow"] == "GET"


async def test_space_by_id_or_name(alice: httpx.AsyncClient, app: Starlette) -> None:
    spaces = await listed(alice, "spotcap", "/spaces")
    named = [s for s in spaces if s["url"]]
    assert len(named) == 2 and len(spaces) == 3
    for space in named:
        name = space["url"].rsplit("/", 1)[-1]
        by_name = await alice.get(f"/spaces/{name}")
        assert by_name.json() == space == (await alice.get(f"/spaces/{space['id']}")).json()
        assert by_name.headers["etag"]
    refused(await alice.get("/spaces/99"), 404, "not_found")
    refused(await alice.get("/spaces/no-such-space"), 404, "not_found")
    async with await speaker(app, "spotcap", "demo-bob") as bob:
        [bikes] = await listed(bob, "spotcap", "/spaces")
        assert (await bob.get("/spaces/bobs-bikes")).json() == bikes
        refused(await bob.get("/spaces/alices-coffee"), 404, "not_found")  # not bob's
    refused(await alice.get("/spaces/bobs-bikes"), 404, "not_found")


# -- lists with Ranges ---------------------------------------------------------------------


async def test_list_is_an_array_with_accept_ranges(alice: httpx.AsyncClient) -> None:
    answer = await alice.get("/customers")
    assert answer.status_code == 206  # 250 customers, 20 by default
    assert isinstance(answer.json(), list) and len(answer.json()) == 20
    assert answer.headers["accept-ranges"] == "id"
    got = ids(answer)
    assert answer.headers["content-range"] == f"id {got[0]}..{got[-1]}"
    assert answer.headers["next-range"] == f"id ]{got[-1]}..; max=20, order=desc"
    assert answer.headers["etag"]


async def test_walk_forward_and_backward_equal_the_full_list(alice: httpx.AsyncClient) -> None:
    full = ids(await alice.get("/customers", headers={"Range": "id ..; max=100"}))
    full += ids(await alice.get("/customers", headers={"Range": f"id ]{full[-1]}..; max=100"}))
    last = await alice.get("/customers", headers={"Range": f"id ]{full[-1]}..; max=100"})
    assert last.status_code == 200 and "next-range" not in last.headers
    full += ids(last)
    assert len(full) == len(set(full)) == 250

    for order, expected in (("desc", full), ("asc", full[::-1])):
        walked: list[str] = []
        headers = {"Range": f"id ..; max=17, order={order}"}
        statuses = []
        while True:
            answer = await alice.get("/customers", headers=headers)
            statuses.append(answer.status_code)
            walked += ids(answer)
            if "next-range" not in answer.headers:
                break
            assert answer.headers["next-range"].endswith(f"; max=17, order={order}")
            headers = {"Range": answer.headers["next-range"]}
        assert walked == expected
        assert statuses == [206] * 14 + [200]  # 250 = 14 * 17 + 12


async def test_backward_page_before_an_object(alice: httpx.AsyncClient) -> None:
    full = await listed(alice, "spotcap", "/customers")
    anchor = full[50]["id"]
    answer = await alice.get("/customers", headers={"Range": f"id ]{anchor}..; max=5, order=asc"})
    assert answer.status_code == 206
    assert ids(answer) == [c["id"] for c in full[49:44:-1]]  # the 5 just newer, oldest first
    newest = await alice.get(
        "/customers", headers={"Range": f"id ]{full[3]['id']}..; max=5, order=asc"}
    )
    assert newest.status_code == 200 and ids(newest) == [c["id"] for c in full[2::-1]]


async def test_inclusive_start_and_empty_stretch(alice: httpx.AsyncClient) -> None:
    full = await listed(alice, "spotcap", "/customers")
    answer = await alice.get("/customers", headers={"Range": f"id {full[10]['id']}..; max=2"})
    assert ids(answer) == [full[10]["id"], full[11]["id"]]
    empty = await alice.get("/customers", headers={"Range": f"id ]{full[-1]['id']}..; max=5"})
    assert empty.status_code == 200 and empty.json() == []
    assert "content-range" not in empty.headers and empty.headers["accept-ranges"] == "id"


async def test_subscriptions_range_over_tokens(alice: httpx.AsyncClient) -> None:
    answer = await alice.get("/subscriptions", headers={"Range": "id ..; max=3"})
    tokens = [s["token"] for s in answer.json()]
    assert answer.headers["content-range"] == f"id {tokens[0]}..{tokens[-1]}"
    more = await alice.get("/subscriptions", headers={"Range": answer.headers["next-range"]})
    assert more.is_success and not set(ids(more)) & set(tokens)


@pytest.mark.parametrize(
    "range_",
    [
        "",
        "bytes=0-100",
        "name ..",
        "id",
        "id 0",
        "id ..cus_x",
        "id ]..",
        "id ]cus_nope..",
        "id cus_nope..",
        "id ..; max=0",
        "id ..; max=101",
        "id ..; max=ten",
        "id ..; order=sideways",
        "id ..; max=5, max=6",
        "id ..; limit=5",
        "id ..; max=5; order=asc",
    ],
)
async def test_range_syntax_errors(alice: httpx.AsyncClient, range_: str) -> None:
    refused(await alice.get("/customers", headers={"Range": range_}), 400, "invalid_range")


@pytest.mark.parametrize("query", ["limit=5", "starting_after=cus_x", "starting_before=cus_x"])
async def test_spaces_paging_arguments_refused(alice: httpx.AsyncClient, query: str) -> None:
    refused(await alice.get(f"/customers?{query}"), 400, "bad_request")


async def test_filters_still_work(alice: httpx.AsyncClient) -> None:
    answer = await alice.get("/captured-emails?space=1", headers={"Range": "id ..; max=100"})
    assert answer.is_success and {e["space"]["id"] for e in answer.json()} == {1}
    refused(await alice.get("/events?type=nope"), 400, "bad_request")


# -- ETags -----------------------------------------------------------------------------------


async def test_etag_everywhere_and_304(alice: httpx.AsyncClient) -> None:
    for path in ("/account", "/spaces/1", "/customers"):
        answer = await alice.get(path)
        etag = answer.headers["etag"]
        again = await alice.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    page = await alice.get("/customers", headers={"Range": "id ..; max=3"})
    other = await alice.get("/customers", headers={"Range": "id ..; max=4"})
    assert page.headers["etag"] != other.headers["etag"]


async def test_etag_follows_next_range(alice: httpx.AsyncClient, app: Starlette) -> None:
    [newest] = (await alice.get("/captured-emails", headers={"Range": "id ..; max=1"})).json()
    stretch = {"Range": f"id {newest['id']}..; max=1, order=asc"}
    before = await alice.get("/captured-emails", headers=stretch)
    assert before.status_code == 200 and "next-range" not in before.headers
    async with bare(app, Authorization=basic("demo-alice")) as own:
        await own.post(ROOT + "/_sandbox/activity", json={"type": "captured_email.created"})
    after = await alice.get(
        "/captured-emails", headers={**stretch, "If-None-Match": before.headers["etag"]}
    )
    # Same body, but now more remain: not 304, since a cached 200 would hide them.
    assert after.status_code == 206 and after.json() == before.json()


# -- writes ----------------------------------------------------------------------------------


async def test_create_201_delete_answers_the_object(alice: httpx.AsyncClient) -> None:
    made = await alice.post(
        "/resource-subscriptions",
        json={"event": "invoice.paid", "target_url": "http://127.0.0.1:9/hook"},
    )
    assert made.status_code == 201 and made.headers["etag"]
    hook = made.json()
    assert hook["object"] == "resource_subscription" and hook["event"] == "invoice.paid"
    form = await alice.post(
        "/resource-subscriptions",
        data={"event": "customer.created", "target_url": "https://example.com/h"},
    )
    assert form.status_code == 201 and form.json()["target_url"] == "https://example.com/h"
    listed_now = (await alice.get("/resource-subscriptions")).json()
    assert {h["id"] for h in listed_now} == {hook["id"], form.json()["id"]}
    deleted = await alice.delete(f"/resource-subscriptions/{hook['id']}")
    assert deleted.status_code == 200 and deleted.headers["etag"]
    assert deleted.json() == {**hook, "deleted": True}
    refused(await alice.delete(f"/resource-subscriptions/{hook['id']}"), 404, "not_found")


async def test_validation_errors_are_422_with_fields(alice: httpx.AsyncClient) -> None:
    body = refused(
        await alice.post(
            "/resource-subscriptions", json={"event": "invoice.paid", "target_url": "ftp://x"}
        ),
        422,
        "invalid_params",
    )
    assert body["fields"] == {"target_url": ["is not an absolute http(s) URL"]}
    body = refused(await alice.post("/resource-subscriptions", json={}), 422, "invalid_params")
    assert body["fields"] == {"event": ["can't be blank"], "target_url": ["can't be blank"]}
    refused(
        await alice.post(
            "/resource-subscriptions",
            content=b"{nope",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "bad_request",
    )


async def test_pay_and_cancel(alice: httpx.AsyncClient, app: Starlette) -> None:
    async with bare(app, Authorization=basic("demo-alice")) as own:
        event = await own.post(ROOT + "/_sandbox/activity", json={"type": "invoice.created"})
    invoice = event.json()["data"]["object"]
    paid = await alice.post(f"/invoices/{invoice['id']}/pay")
    assert paid.status_code == 200 and paid.json()["paid"] is True and paid.headers["etag"]
    again = refused(await alice.post(f"/invoices/{invoice['id']}/pay"), 422, "invalid_params")
    assert "already paid" in again["message"] and "fields" not in again

    subs = (await alice.get("/subscriptions", headers={"Range": "id ..; max=100"})).json()
    active = next(s for s in subs if s["status"] == "active")
    path = f"/customers/{active['customer']['id']}/subscriptions/{active['token']}"
    cancelled = await alice.delete(path)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (
        "already cancelled" in refused(await alice.delete(path), 422, "invalid_params")["message"]
    )


async def test_server_error_envelope(alice: httpx.AsyncClient, app: Starlette) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    app.state.sandbox.store.page = explode
    refused(await alice.get("/customers"), 500, "internal_error")
