"""SFMC's rules as plain Python: no Flask, no SQL. The HTTP layer parses, calls these, and renders."""
