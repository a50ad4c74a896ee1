"""``python -m xgb_container [train|serve|monitor]``: the SageMaker programs.

SageMaker always names the program (``IMAGE train``, ``IMAGE serve``). Without one (the SDK
v3 ``ModelTrainer`` in local mode starts the image bare) the program follows the contract
found: the training contract's config files under ``input/config`` mean train, the
monitoring contract's variables (``dataset_source`` and ``output_path``) mean monitor,
anything else means serve.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

from .paths import Layout

# Program name -> module (relative to this package) whose ``main()`` runs it.
PROGRAMS = {"train": "training", "serve": "serving", "monitor": "monitor.program"}
USAGE = f"usage: python -m xgb_container [{'|'.join(PROGRAMS)}]"
TRAINING_CONFIG = ("hyperparameters.json", "inputdataconfig.json", "resourceconfig.json")
MONITORING_VARIABLES = ("dataset_source", "output_path")


def choose(layout: Layout, environ: dict[str, str] | os._Environ) -> tuple[str, str]:
    """The program for a start without argument, and why."""
    found = [name for name in TRAINING_CONFIG if (layout.config_dir / name).is_file()]
    if found:
        return "train", f"found {layout.config_dir / found[0]} (the training contract)"
    if all(environ.get(name) for name in MONITORING_VARIABLES):
        return "monitor", "found dataset_source and output_path (the monitoring contract)"
    return "serve", f"no training config in {layout.config_dir}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        program, why = choose(Layout.from_env(), os.environ)
        print(f"No program named: {why}, so running {program}", file=sys.stderr, flush=True)
    elif args[0] in PROGRAMS:
        program = args[0]
    else:
        print(USAGE, file=sys.stderr)
        return 2
    module = importlib.import_module(f".{PROGRAMS[program]}", __package__)
    return module.main()


def end(code: int) -> NoReturn:
    """Exit with ``code``; at once after a distributed training that broke off, whose
    XGBoost state must not be cleaned up at exit (``session.abandoned``)."""
    session = sys.modules.get(f"{__package__}.session")
    if session is not None and session.abandoned():
        session.end_process(code)
    sys.exit(code)


if __name__ == "__main__":
    end(main())
