"""Thin Flask blueprints, one per SFMC API family plus the admin API: parse, call the services, render."""
