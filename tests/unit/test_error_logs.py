"""The net under every test (tests/conftest.py): an ERROR logged by our code fails the test
that did not expect it."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import _ErrorLogs


def _record(name: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, "boom", None, None)


def test_errors_from_loggers_not_allowed_are_unexpected() -> None:
    logs = _ErrorLogs()
    for name in ("hub.ingest", "hub.ingestion", "edge.delivery"):
        logs.emit(_record(name))
    unexpected = logs.unexpected(("hub.ingest",))
    assert [r.name for r in unexpected] == ["hub.ingestion", "edge.delivery"]


def test_a_warning_is_not_collected() -> None:
    logger = logging.getLogger("tests.the-net")  # not ours: the net itself stays quiet
    logs = _ErrorLogs()
    logger.addHandler(logs)
    try:
        logger.warning("only a warning")
        logger.error("an error")
    finally:
        logger.removeHandler(logs)
    assert [r.getMessage() for r in logs.records] == ["an error"]


@pytest.mark.expect_error_log("hub")
def test_a_test_that_expects_an_error_log_passes() -> None:
    logging.getLogger("hub.tests-of-the-net").error("expected here")
