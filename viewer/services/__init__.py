"""Use cases that wire the sibling layers together (no Qt): retrieve into the cache, send from it.

The network layer knows nothing of the cache and the cache nothing of the network; the GUI
and the CLI call these functions, so both do exactly the same thing.
"""
