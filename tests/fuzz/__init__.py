"""A seeded fuzzer that attacks a live chatio node over both transports.

``live.py`` is the entry point (``make fuzz``); ``run()`` in it is the
importable core the functional test calls with a smaller budget.
"""
