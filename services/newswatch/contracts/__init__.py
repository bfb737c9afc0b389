"""The records services exchange, defined once: JSON Schema files in ``schemas/`` and one typed model each.

from newswatch.contracts import Article, validate_record
validate_record("article", {"id": "a1", ...})   # raises RecordInvalidError
"""

from newswatch.contracts.models import (
    EVENT_TYPES,
    Alert,
    AlertEvidence,
    AlertStatus,
    Article,
    Candidate,
    Classification,
    DeadLetter,
    DeadLetterReason,
    EventScores,
    EventType,
    Severity,
)
from newswatch.contracts.schemas import RecordInvalidError, load_schema, schema_names, validate_record

__all__ = [
    "EVENT_TYPES",
    "Alert",
    "AlertEvidence",
    "AlertStatus",
    "Article",
    "Candidate",
    "Classification",
    "DeadLetter",
    "DeadLetterReason",
    "EventScores",
    "EventType",
    "RecordInvalidError",
    "Severity",
    "load_schema",
    "schema_names",
    "validate_record",
]
