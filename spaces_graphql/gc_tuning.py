"""The garbage collector of a serving process, tuned once when the app starts.

An operation allocates tens of thousands of short-lived objects (records, graph
wrappers, result dicts); with CPython's default first threshold (700 allocations)
the collector ran several times per W3 operation and took ~10 % of its CPU
(``python -m bench concurrency``). Two measures, both at start-up:

* ``gc.freeze()`` after the app is built: the schema, the modules and the
  settings live as long as the process, so full collections stop traversing them;
* a higher first threshold (``gc_threshold``, default 20,000): young collections
  run ~30 times less often; each still frees what an operation dropped, and the
  older generations keep CPython's ratios (reference cycles are still collected).
"""

from __future__ import annotations

import gc

#: CPython's ratios for the older generations, kept as they are.
_OLDER = (10, 10)


def tune(threshold: int) -> bool:
    """Freeze what start-up allocated and raise the first threshold; False when 0 (off)."""
    if threshold <= 0:
        return False
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *_OLDER)
    return True
