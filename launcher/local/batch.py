"""A local transform job, cut as SageMaker cuts it: MultiRecord, SplitType Line.

Each file is split on lines into requests of at most ``--max-payload-mb``; a
``header=present`` CSV's header goes in the first request only, as SageMaker sends it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import hosting, payloads, report, values
from ..errors import LaunchError
from .docker import check_image, engine, post, start_server
from .serving import model_folder
from .training import source_files


def requests_of(path: Path, limit: int, content_type: str):  # noqa: ANN201 - Iterator[bytes]
    """The MultiRecord request bodies of one input file."""
    with path.open("rb") as lines:
        yield from payloads.line_chunks(
            lines,
            limit,
            header=payloads.has_header(content_type),
            repeat_header=False,
            name=path.name,
        )


def score_files(
    url: str, folder: Path, files: list[Path], output: Path, settings: hosting.Transform
) -> None:
    """One ``FILE.out`` per input file, one answer per request, in order."""
    limit = settings.max_payload_mb * 1024 * 1024
    for relative in files:
        answers = []
        try:
            for body in requests_of(folder / relative, limit, settings.content_type):
                answer = post(url, body, settings.content_type, settings.accept)
                answers.append(answer if answer.endswith(b"\n") else answer + b"\n")
        except LaunchError as exc:
            raise LaunchError(f"{relative}: {exc}") from None
        target = output / f"{relative}.out"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"".join(answers))


def batch(args: argparse.Namespace) -> int:
    client = engine()
    job = values.check_name(args.job_name or values.unique_name("xgb-batch"), "job name")
    root = (args.local_dir / job).resolve()
    output = Path(args.output_s3).resolve() if args.output_s3 else root / "batch-output"
    folder, files = source_files(args.input)
    settings = hosting.Transform(
        content_type=args.content_type or payloads.content_type_for(folder / files[0], None),
        accept=args.accept,
        max_payload_mb=args.max_payload_mb,
    )
    settings.check()
    if not args.image:
        raise LaunchError("batch --local needs --image (a local image tag)")
    image = check_image(client, args.image)
    model = model_folder(args, root / "model")
    env = {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(args.max_payload_mb),
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "1",
        **values.environment(args.env),
    }
    description: dict[str, Any] = {
        "TransformJobName": job,
        "TransformOutput": {"S3OutputPath": str(output)},
    }
    container, url = start_server(client, image, job, model, 0, env)
    try:
        score_files(url, folder, files, output, settings)
        description["TransformJobStatus"] = "Completed"
    except LaunchError as exc:
        description["TransformJobStatus"] = "Failed"
        description["FailureReason"] = str(exc)
    finally:
        container.remove(force=True)
    return report.transform(description)
