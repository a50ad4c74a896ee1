"""``invoke``: send the rows of a file to an endpoint and print the answers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import botocore.exceptions

from .. import options, payloads
from ..aws import Aws
from ..cli import Command
from ..errors import LaunchError


def arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser)
    parser.add_argument("--endpoint", required=True, help="endpoint name")
    parser.add_argument("--input", type=Path, required=True, help="file of rows")
    parser.add_argument(
        "--content-type",
        help="request content type (default: from the file name: .csv text/csv, "
        ".jsonl application/jsonlines, .json application/json, .libsvm text/libsvm)",
    )
    parser.add_argument("--accept", help="answer content type, e.g. application/json")
    parser.add_argument(
        "--rows-per-request",
        type=int,
        default=0,
        help="rows per request (default: as many as fit in 6 MB); JSON documents go whole",
    )


def remote(aws: Aws, args: argparse.Namespace) -> int:
    content_type = payloads.content_type_for(args.input, args.content_type)
    for body in payloads.bodies(args.input, content_type, args.rows_per_request):
        request = {"EndpointName": args.endpoint, "Body": body, "ContentType": content_type}
        if args.accept:
            request["Accept"] = args.accept
        if aws.dry_run:
            aws.call("sagemaker-runtime", "invoke_endpoint", **{**request, "Body": body.decode()})
            continue
        try:
            answer = aws.call("sagemaker-runtime", "invoke_endpoint", **request)
        except botocore.exceptions.ClientError as exc:
            raise LaunchError(f"endpoint {args.endpoint}: {exc}") from None
        text = answer["Body"].read().decode()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def local(args: argparse.Namespace) -> int:
    from ..local import serving

    return serving.invoke(args)


COMMAND = Command(
    name="invoke",
    help="send rows from a file to an endpoint and print the answers",
    description="Send the rows of a CSV, JSON lines, LibSVM or JSON file to an endpoint and "
    "print the answers, one request per chunk of rows.",
    arguments=arguments,
    remote=remote,
    local=local,
)
