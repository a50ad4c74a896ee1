"""Content types: the one alias table and parser that training and serving share."""

from __future__ import annotations

from ..errors import UserError

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
LIBSVM = "text/libsvm"
PARQUET = "application/x-parquet"
ALIASES = {
    "csv": CSV,
    "text/x-csv": CSV,
    "application/csv": CSV,
    "json": JSON,
    "jsonlines": JSONLINES,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/x-ndjson": JSONLINES,
    "libsvm": LIBSVM,
    "text/x-libsvm": LIBSVM,
    "parquet": PARQUET,
    "application/parquet": PARQUET,
}
CONTENT_TYPES = (CSV, JSON, JSONLINES, LIBSVM, PARQUET)
ACCEPT_TYPES = (CSV, JSON, JSONLINES)


class UnsupportedType(UserError):
    """A content type no format reads (HTTP 415 when serving)."""


def media_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``text/csv; header=present`` as ``("text/csv", {"header": "present"})``, aliases
    resolved; an unknown type is returned as written (lower case). No value means CSV."""
    media, *params = (value or CSV).split(";")
    media = media.strip().lower()
    options = {}
    for param in params:
        key, _, val = param.partition("=")
        options[key.strip().lower()] = val.strip().strip('"').lower()
    return ALIASES.get(media, media), options


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Like ``media_type``, but ``UnsupportedType`` for a type no format reads."""
    media, options = media_type(value)
    if media not in CONTENT_TYPES:
        supported = ", ".join(CONTENT_TYPES)
        raise UnsupportedType(f"content type {value!r} is not supported; use one of {supported}")
    return media, options
