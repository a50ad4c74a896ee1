"""The one error the launcher reports to the user instead of a traceback."""

from __future__ import annotations


class LaunchError(Exception):
    """Something the user can fix: the message names it in one line."""
