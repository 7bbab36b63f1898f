"""Structured JSON log lines on stdout, with stable keys.

One line per request and one per attempt (see ``plugins/request_log.py``).
Values are written as given: callers pass only what is safe to log (key
aliases, api_base hosts), never secrets or prompt text.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

EVENTS = logging.getLogger("llm_router.events")


class JsonFormatter(logging.Formatter):
    """Renders event records as one JSON object per line; other records get the same frame."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        line: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower()}
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line.update(event="log", logger=record.name, message=record.getMessage())
            if record.exc_info and record.exc_info[0] is not None:
                line["error_class"] = record.exc_info[0].__name__
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """Send llm-router's logs to stdout as JSON lines (idempotent)."""
    root = logging.getLogger("llm_router")
    if any(getattr(h, "_llm_router", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler._llm_router = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    # Two lines per request: the JSON lines use none of the caller, thread or process
    # fields a log record gathers by default, and gathering them was half the cost of a
    # line (the logging HOWTO's "Optimization" settings).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def emit(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event."""
    EVENTS.log(level, event, extra={"fields": {"event": event, **fields}})


def now_ms() -> float:
    return time.time() * 1000
