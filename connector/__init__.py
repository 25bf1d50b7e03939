"""Segment-to-Salesforce Marketing Cloud connector.

``settings`` loads and validates the destination settings, ``transform`` holds the seed's data
formatting rules (Title Case, Contact Key, flattening, context attributes, ISO dates), ``plan``
turns one Segment event into the SFMC operations it calls for and ``personas`` holds the rules for
audience and computed-trait data extensions. All of these are pure, so a delivery failure can be
explained by showing the planned operations.
"""
