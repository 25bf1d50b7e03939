"""The seed's Title Case rule for Data Extension column names (FMT-5).

A name is Title Case when every space-separated word starts with an upper-case letter or a
digit. Acronyms (``UTM Source``, ``IP Address``) and the seed's fixed ``Device-model`` pass;
``firstName``, ``first name`` and ``First_name`` do not.
"""

from __future__ import annotations


def is_title_case(name: str) -> bool:
    words = name.split(" ")
    return bool(name) and all(word and (word[0].isupper() or word[0].isdigit()) for word in words)


def title_case_problem(name: str) -> str | None:
    """Why ``name`` is not Title Case, or None when it is."""
    if not name or not name.strip():
        return "a field name may not be empty"
    if name != name.strip() or "  " in name:
        return f"field name '{name}' has leading, trailing or double spaces"
    if is_title_case(name):
        return None
    bad = [w for w in name.split(" ") if not (w[0].isupper() or w[0].isdigit())]
    return (
        f"field name '{name}' is not Title Case: "
        f"{', '.join(repr(w) for w in bad)} must start with an upper-case letter or a digit "
        "(the seed's rule FMT-5; e.g. 'First Name', 'UTM Source')"
    )
