"""A fleet you can run and break: ``fleet.py`` starts it, ``inject.py`` injects faults.

See README.md, "Watch it recover". The scripts are also what ``bench/bench_chaos.py``
and ``tests/test_fleet.py`` run, so they stay working.
"""
