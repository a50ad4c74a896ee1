"""The command line: one ``Command`` per subcommand, collected from the modules in ``MODULES``.

A module adds a subcommand by defining ``COMMAND = Command(...)`` (or ``COMMANDS``, a list) and
being named in ``MODULES`` below (one line).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

import botocore.exceptions

from .aws import Aws
from .errors import LaunchError

MODULES = (
    "launcher.commands.train",
    "launcher.commands.tune",
    "launcher.commands.deploy",
    "launcher.commands.update",
    "launcher.commands.invoke",
    "launcher.commands.batch",
    "launcher.commands.register",
    "launcher.commands.cleanup",
    "launcher.monitoring",
)

EXAMPLES = """examples:
  %(prog)s train --image xgb-container:latest --role SageMakerRole \\
      --train data/train --validation data/validation --hp num_round=200 --instance-count 2 \\
      --distribution ShardedByS3Key --spot --max-wait 7200 --checkpoint-s3 s3://bucket/ckpt
  %(prog)s deploy --image xgb-container:latest --role SageMakerRole --training-job JOB --name credit
  %(prog)s invoke --endpoint credit --input applicants.csv
  %(prog)s batch --model credit --input s3://bucket/applicants/ --content-type text/csv
  %(prog)s cleanup --endpoint credit
  %(prog)s train --local --image xgb-container:latest --train local_test/test_dir/input/data/train \\
      --hyperparameters local_test/test_dir/input/config/hyperparameters.json
  %(prog)s train --dry-run ...   (print the requests, send nothing)
"""


@dataclass(frozen=True)
class Command:
    """One subcommand: its flags, its SageMaker flow and (optionally) its local flow."""

    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    remote: Callable[[Aws, argparse.Namespace], int]
    local: Callable[[argparse.Namespace], int] | None = None


def commands() -> list[Command]:
    found: list[Command] = []
    for name in MODULES:
        module = importlib.import_module(name)
        found += getattr(module, "COMMANDS", [getattr(module, "COMMAND", None)])
    return [c for c in found if c is not None]


def build_parser() -> argparse.ArgumentParser:
    import sagemaker_launch

    parser = argparse.ArgumentParser(
        prog="sagemaker_launch.py",
        description=sagemaker_launch.__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands():
        sub = subparsers.add_parser(
            command.name, help=command.help, description=command.description
        )
        command.arguments(sub)
        sub.set_defaults(handler=command)
    return parser


def run(args: argparse.Namespace) -> int:
    command: Command = args.handler
    if getattr(args, "local", False):
        if command.local is None:
            raise LaunchError(f"{command.name} has no --local mode")
        if args.dry_run:
            raise LaunchError("--dry-run prints AWS requests; --local sends none")
        return command.local(args)
    aws = Aws.connect(args.region, dry_run=args.dry_run)
    try:
        return command.remote(aws, args)
    except (LaunchError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        message = str(exc) if isinstance(exc, LaunchError) else f"AWS: {' '.join(str(exc).split())}"
        if aws.sent:  # a failure after some creates: say what exists now
            message += f"; left behind: {aws.left_behind()}"
        raise LaunchError(message) from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(f"error: AWS: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
