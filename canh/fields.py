"""Which ECS fields are full text, IP addresses or dates: one table both stores and the query layer use."""

from __future__ import annotations

# Searched word by word, case-insensitively (Elasticsearch `text`/`match_only_text`); every other
# string field is an exact, case-sensitive keyword, as in ECS.
TEXT_FIELDS: frozenset[str] = frozenset(
    {
        "message",
        "event.original",
        "error.message",
        "error.stack_trace",
        "process.command_line",
        "user_agent.original",
        "url.original",
        "rule.description",
        "comment",
        "summary",
        "description",
    }
)
# Fields a bare word (no ``field:``) searches.
DEFAULT_TEXT_FIELDS: tuple[str, ...] = ("message", "event.original")

DATE_FIELDS: frozenset[str] = frozenset(
    {
        "@timestamp",
        "event.created",
        "event.ingested",
        "event.start",
        "event.end",
        "first_seen",
        "last_seen",
        "created",
        "updated",
    }
)


def is_ip_field(field: str) -> bool:
    """ECS types ``*.ip`` fields (and ``*.ip`` lists such as ``host.ip``) as IP addresses."""
    return field == "ip" or field.endswith(".ip")


def is_text_field(field: str) -> bool:
    """True when the field is analysed word by word."""
    return field in TEXT_FIELDS


def is_date_field(field: str) -> bool:
    """True when range bounds on the field are times."""
    return field in DATE_FIELDS or field.endswith(("_at", ".timestamp"))
