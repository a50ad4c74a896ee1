#!/usr/bin/env python3
"""Train, tune, deploy, update, invoke, batch-score, register and clean up the XGBoost image
on Amazon SageMaker.

Every AWS call goes through boto3, which honours AWS_ENDPOINT_URL, so the whole tool runs
against an emulator too; --dry-run prints each request instead of sending it. With --local,
train, tune, deploy, invoke, batch and cleanup run the same image on the local Docker engine,
with /opt/ml laid out as SageMaker lays it out.
"""

from __future__ import annotations

import sys

from launcher.cli import build_parser, main, run  # noqa: F401 - the tool's entry points

if __name__ == "__main__":
    sys.exit(main())
