"""Reproducible measurements of resilience against its peers.

Each module ``benchmarks/<name>.py`` has ``async def measure(quick: bool = False) -> dict``
and a ``main()`` that prints a table and, last, one JSON line.
"""
