"""The rules a case may cite: the seed's (``seed-rules.md``) and the SFMC behaviours a connector must survive.

Each rule has the seed section it comes from and, when no case can watch it from outside a
connector, the reason (shown in the coverage table instead of a case list).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    section: str
    text: str
    note: str | None = None  # what the cases cannot see from outside the connector, and why


_IDENTIFY = "Set up to send Identify calls to SFMC"
_FORMAT = "Data Formatting Requirements"
_TRACK = "Set up to send Track calls to SFMC"
_CONTEXT = "Using context properties"
_API = "API Events"
_BATCH = "Optional: Set up SFMC batching"
_RATE = "Rate limits"
_PERSONAS = "Using Personas with SFMC"
_AUTH = "Grant Segment API access / Find your SFMC subdomain"
_SYNC = "Sync failures"
_SFMC = "SFMC API behaviour (sfmc-api-notes)"

SEED_RULES: tuple[Rule, ...] = (
    Rule("ID-1", _IDENTIFY, "An identify with neither userId nor an email trait is not forwarded."),
    Rule("ID-2", _IDENTIFY, "Contact Key = userId when present, otherwise the email trait."),
    Rule("ID-3", _FORMAT, "Colons are removed from the Contact Key."),
    Rule("ID-4", _IDENTIFY, "Traits are upserted into the Identify DE, keyed by Contact Key."),
    Rule("ID-5", _IDENTIFY, 'Identify creates/updates the Contact unless "Do Not Create or Update Contacts".'),
    Rule("ID-6", _IDENTIFY, "With no Identify DE key set, identify writes no Data Extension."),
    Rule("FMT-1", _FORMAT, "Property and trait keys are sent in Title Case."),
    Rule("FMT-2", _FORMAT, "Nested objects are left out of what is sent."),
    Rule("FMT-3", _FORMAT, "Dates are sent as ISO-8601; SFMC rejects other formats."),
    Rule("FMT-4", _FORMAT, "Keys without a column are ignored by SFMC; the row is still written."),
    Rule(
        "FMT-5",
        _FORMAT,
        "DE attributes must be Title Case to match what is sent.",
        "The DE side is the account's setup, not the connector's: the fidelity mode checks that the emulator "
        "refuses non-Title-Case fields; connector cases check that what is sent matches a Title-Cased DE.",
    ),
    Rule("TR-1", _TRACK, "Only configured conversion events are sent, each to its DE."),
    Rule("TR-2", _TRACK, "Properties are Title-Cased; Contact Key carries the userId."),
    Rule("TR-3", _TRACK, "Primary Key names the key column(s), comma-separated, order irrelevant."),
    Rule("TR-4", _TRACK, "Two events with the same primary key leave one row with the latest values."),
    Rule("TR-5", _TRACK, "UUID Primary Key: Uuid = messageId, every event makes a new row."),
    Rule("TR-6", _TRACK, "Track calls go through SFMC's data events API into the DE."),
    Rule("CTX-1", _CONTEXT, "Context fields map to the seed's fixed attribute names."),
    Rule("CTX-2", _CONTEXT, "Context mapping applies to identify and track alike."),
    Rule("API-1", _API, "Configured events fire /interaction/v1/events with the Contact Key."),
    Rule("BAT-1", _BATCH, "Batching sends DE rows through the asynchronous API."),
    Rule("BAT-2", _BATCH, "With batching on, API events and contact creation are not used."),
    Rule("BAT-3", _BATCH, "Without the async API, batched data is dropped: the connector must report it."),
    Rule(
        "BAT-4",
        _BATCH,
        "Batching cuts API calls and rate-limit errors.",
        "A purpose, not a contract: observed as a ceiling on REST calls and no 429 for a batch of events; "
        '"moves large volumes fast" is measured by the load tests, not here.',
    ),
    Rule("RL-1", _RATE, "Stay under ~20 requests/second per account and handle 429s."),
    Rule(
        "RL-2",
        _RATE,
        "Several large backfills compete for the same limit.",
        "Observed with two connector runs at once against a low account limit; the seed's 10MM-user scale "
        "belongs to the load tests.",
    ),
    Rule("PER-1", _PERSONAS, "Audiences sync to an existing DE (key given) or a new one (key blank)."),
    Rule("PER-2", _PERSONAS, "An existing DE keyed by Contact Key only gets missing nullable columns added."),
    Rule("PER-3", _PERSONAS, "An audience is a Title-Cased column set true when a user enters."),
    Rule("PER-4", _PERSONAS, "When a user leaves, the value becomes false; the row stays."),
    Rule("PER-5", _PERSONAS, "A computed trait is a column named after the trait, holding its value."),
    Rule("AUTH-1", _AUTH, "Client id/secret of an installed package; its permissions bound what works."),
    Rule("AUTH-2", _AUTH, "The 28-character mc… subdomain selects the v2 endpoints; without it, legacy v1."),
    Rule(
        "AUTH-3",
        _AUTH,
        "Account ID (MID) selects the business unit.",
        "Observed as the MID in the token request; the emulator keeps one set of DEs per tenant, so rows "
        "cannot show which business unit wrote them.",
    ),
    Rule("DE-1", _SYNC, "Changing a DE column's type after setup makes syncs fail."),
)

SFMC_BEHAVIOURS: tuple[Rule, ...] = (
    Rule("SFMC-TOKEN-EXPIRY", _SFMC, "A token that expires mid-run (401 + WWW-Authenticate) is renewed once."),
    Rule("SFMC-RETRY-AFTER", _SFMC, "A 429 errorcode 50100 with Retry-After is retried, not sooner than asked."),
    Rule("SFMC-10006-RETRYABLE", _SFMC, "400 errorcode 10006 without additionalErrors is transient: retried."),
    Rule("SFMC-5XX", _SFMC, "500/503 answers and dropped connections are retried; nothing is lost."),
    Rule("SFMC-PARTIAL-ROWSET", _SFMC, "A rowset with a bad row saves the others; the bad one is reported."),
    Rule("SFMC-ASYNC-ROW-ERRORS", _SFMC, "Async jobs report per-row errors; good rows land, bad ones are reported."),
    Rule(
        "SFMC-ASYNC-STALL",
        _SFMC,
        "An async job that never finishes does not hold delivery up: it is abandoned after a deadline and reported.",
    ),
    Rule(
        "SFMC-DEADLOCK-RETRY",
        _SFMC,
        "Async rows refused with SFMC's deadlock ('Rerun the transaction') are transient: sent again, they land.",
    ),
    Rule(
        "SFMC-EMPTY-VALUES",
        _SFMC,
        "No row goes out with empty values: SFMC refuses it, and in a rowset every row after it.",
    ),
    Rule("SFMC-FIDELITY", _SFMC, "The emulator's answers match SFMC's documented shapes (fidelity mode)."),
)

ALL_RULES: dict[str, Rule] = {rule.id: rule for rule in (*SEED_RULES, *SFMC_BEHAVIOURS)}


def rule_order(rule_id: str) -> int:
    ids = list(ALL_RULES)
    return ids.index(rule_id) if rule_id in ALL_RULES else len(ids)
