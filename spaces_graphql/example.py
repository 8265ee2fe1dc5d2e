"""The example query GraphiQL opens with (development) and ``spaces-graphql demo`` prints.

Its own module so that the app (``app.py``) and the command line (``cli.py``, which
builds the app) both import it without importing each other.
"""

from __future__ import annotations

EXAMPLE_QUERY = """{
  customers(first: 5) {
    nodes {
      name
      email
      space { url }
      subscriptions(first: 3) {
        nodes {
          status
          total { amount currency }
          invoices(first: 3) { nodes { orderNumber paid customer { email } } }
        }
      }
    }
  }
}"""
