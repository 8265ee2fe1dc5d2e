"""``python -m sandbox``: serve the sandbox."""

from sandbox.server import main

main()
