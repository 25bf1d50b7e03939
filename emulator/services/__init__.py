"""Services: state, locks and store calls of one SFMC API family each, over the pure rules in ``domain``.

Each module shares its name with ``api/<name>.py`` (HTTP) and ``domain/<name>.py`` (rules). A service
receives what it uses (the store, the clock, another service's lookup or row-writing function), never
the whole emulator, so no service imports another's module and nothing imports in a circle.
``emulator/core.py`` builds them and wires them together.
"""
