"""Logging set-up for Anju's processes: one format, level from ANJU_LOG_LEVEL."""

from __future__ import annotations

import logging
import os


def configure() -> None:
    logging.basicConfig(
        level=os.environ.get("ANJU_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
