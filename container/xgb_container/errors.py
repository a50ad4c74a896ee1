"""Errors that end a program with a reason a person can act on."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (data, configuration, hyperparameters, model files).

    The message is one line that names the problem; training writes it first in
    ``output/failure`` and exits non-zero, serving answers it with an HTTP 4xx.
    """
