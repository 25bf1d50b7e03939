"""The classification table: which SFMC answers are transient, and how async result items read in either shape."""

from __future__ import annotations

import pytest

from connector.delivery.outcomes import FINAL, TRANSIENT, call_is_retryable, row_error_kind, row_result

DEADLOCK = (
    "Transaction (Process ID 57) was deadlocked on lock resources with another process and has been "
    "chosen as the deadlock victim. Rerun the transaction."
)


@pytest.mark.parametrize(
    ("status", "body", "retry"),
    [
        (429, None, True),
        (500, None, True),
        (503, {"message": "Service Unavailable"}, True),
        (400, {"errorcode": 10006, "message": "Unable to save rows for data extension ID 1"}, True),
        (400, {"errorcode": 10006, "additionalErrors": [{"message": "bad date"}]}, False),
        (400, {"errorcode": 10000}, False),
        (404, None, False),
    ],
)
def test_which_calls_are_repeated(status, body, retry):
    assert call_is_retryable(status, body) is retry


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (DEADLOCK, TRANSIENT),
        ("Execution Timeout Expired. The timeout period elapsed", TRANSIENT),
        ("The request timed out", TRANSIENT),
        ("Unable to save rows for data extension ID 7", TRANSIENT),
        ("The value 'x' for field 'Quantity' is not a valid Number.", FINAL),
        ("Violation of PRIMARY KEY constraint", FINAL),
        ("", FINAL),
    ],
)
def test_which_row_errors_are_transient(message, kind):
    assert row_error_kind(message) == kind


def test_result_items_in_the_emulators_shape():
    assert row_result({"status": "OK", "message": "Success"}).ok
    failed = row_result({"status": "Error", "message": DEADLOCK, "errors": [DEADLOCK]})
    assert not failed.ok and failed.message == DEADLOCK


def test_result_items_in_sfmcs_recorded_shape():
    assert row_result({"status": "OK", "message": "Upserted DataExtensionObject"}).ok
    assert row_result({"message": "Upserted DataExtensionObject"}).ok
    failed = row_result(
        {
            "status": "Error",
            "errors": [{"errorMessage": DEADLOCK, "name": "Uuid", "errorCode": 10006}],
        }
    )
    assert not failed.ok
    assert failed.message == f"Uuid: {DEADLOCK} (errorCode 10006)" and row_error_kind(failed.message) == TRANSIENT


def test_an_item_with_errors_is_a_failure_whatever_its_status_says():
    assert not row_result({"status": "OK", "errors": [{"errorMessage": "bad"}]}).ok
    assert row_result({"status": "Weird"}).message == "row ended with status 'Weird'"
