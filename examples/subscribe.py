"""Subscribe to new customers over graphql-transport-ws and print each event.

    .venv/bin/python examples/subscribe.py ws://127.0.0.1:8080/graphql demo-alice

Then make something happen (as a Spaces end user would) in the sandbox:

    curl -u demo-alice: -X POST -H 'content-type: application/json' \\
         -d '{"type": "customer.created"}' http://127.0.0.1:8081/_sandbox/activity
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.client import connect

QUERY = """subscription { eventCreated(types: [CUSTOMER_CREATED]) {
  type createdAt resource { ... on Customer { name email space { url } } } } }"""


async def main(url: str, token: str, count: int) -> None:
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))  # fmt: skip
        print("<", await ws.recv())
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
        print("> subscribe eventCreated(types: [CUSTOMER_CREATED])", flush=True)
        for _ in range(count):
            print("<", await ws.recv(), flush=True)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8080/graphql"
    token = sys.argv[2] if len(sys.argv) > 2 else "demo-alice"
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    asyncio.run(main(url, token, count))
