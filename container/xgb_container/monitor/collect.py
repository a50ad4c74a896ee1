"""Reading a period's capture files into a profile of the current traffic."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .. import formats
from ..errors import UserError
from .config import Config, Reference
from .profile import Profile

EXAMPLES = 10  # malformed lines named in the report
BATCH_ROWS = 4096  # rows decoded from many records are profiled together
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def safe_reason(message: str) -> str:
    """A reason without any quoted value (reports never repeat what the traffic held)."""
    return QUOTED.sub("'…'", message)


@dataclass
class Current:
    """What the period's traffic held."""

    profile: Profile
    lines: int = 0
    records: int = 0
    malformed: int = 0
    examples: list[str] = field(default_factory=list)
    outside_window: int = 0
    unreadable_outputs: int = 0
    scores: list[np.ndarray] = field(default_factory=list)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    extra_columns: set[str] = field(default_factory=set)
    named_columns: set[str] = field(default_factory=set)
    positional_records: int = 0
    bad_widths: set[int] = field(default_factory=set)
    pending: list[np.ndarray] = field(default_factory=list)
    pending_rows: int = 0

    @property
    def rows(self) -> int:
        return self.profile.rows + self.pending_rows

    def add(self, X: np.ndarray) -> None:
        """Profile rows in batches (per-call overhead dominates single-row records)."""
        self.pending.append(X)
        self.pending_rows += len(X)
        if self.pending_rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.profile.add(np.concatenate(self.pending))
        self.pending, self.pending_rows = [], 0

    def bad_line(self, where: str, reason: str) -> None:
        self.malformed += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(f"{where}: {safe_reason(reason)}")

    def all_scores(self) -> np.ndarray:
        return np.concatenate(self.scores) if self.scores else np.empty(0)


def _take(current: Current, record: formats.capture.CaptureRecord, schema) -> None:
    seen = formats.capture.observe(record.input.body, record.input.content_type, schema)
    current.add(seen.X)
    for j, count in enumerate(seen.wrong_type):
        if count:
            feature = current.profile.features[j]
            feature.missing -= int(count)
            feature.wrong_type += int(count)
    current.extra_columns |= seen.extra_columns
    if seen.named_columns is None:
        current.positional_records += 1
    else:
        current.named_columns |= seen.named_columns
    current.records += 1
    if record.output is None:
        return
    try:
        scores = formats.capture.decode_scores(record.output.body, record.output.content_type)
    except UserError:
        current.unreadable_outputs += 1
        return
    current.scores.append(scores)
    current.predictions[record.event_id] = scores
    if record.inference_id:
        current.predictions[record.inference_id] = scores


def collect(config: Config, reference: Reference) -> Current:
    """Every capture line under ``dataset_source`` in the period; bad lines are counted."""
    edges, bounds = reference.edges()
    current = Current(Profile(reference.schema, edges, bounds))
    for where, line in formats.capture.iter_lines(config.source):
        current.lines += 1
        try:
            record = formats.capture.parse_capture_line(line)
            if config.start or config.end:
                if record.inference_time is None:
                    raise UserError("eventMetadata.inferenceTime is missing")
                if not config.in_window(record.inference_time):
                    current.outside_window += 1
                    continue
            _take(current, record, reference.schema)
        except formats.capture.ColumnCountError as exc:
            current.bad_widths.update(exc.widths)
            current.bad_line(where, str(exc))
        except UserError as exc:
            current.bad_line(where, str(exc))
    current.flush()
    return current
