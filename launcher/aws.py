"""One boto3 session per run: region, account, the checks made before anything is created,
and the one place every request goes through (so that ``--dry-run`` can print it instead).

boto3 reads ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) itself, so every call
made here reaches an emulator when one is configured.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
from botocore import xform_name
from botocore.config import Config

from .errors import LaunchError

ECR_URI = re.compile(
    r"^(?P<account>\d{12}|<ACCOUNT>)\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9][a-z0-9._/-]*)(?::(?P<tag>[\w.-]+)|@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
ACCOUNT_PLACEHOLDER = "<ACCOUNT>"  # what --dry-run writes where the account would be looked up
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
NOT_FOUND = {
    "sagemaker": ("ResourceNotFound",),
    "application-autoscaling": ("ObjectNotFoundException",),
}


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)


@cache
def operation_name(service: str, method: str) -> str:
    """The API's own operation name of a boto3 method (``create_model`` -> ``CreateModel``)."""
    model = botocore.session.get_session().get_service_model(service)
    names = {xform_name(op): op for op in model.operation_names}
    return names[method]


@cache
def known_regions() -> frozenset[str]:
    """The regions where SageMaker runs, from botocore's endpoint data (read once)."""
    session = boto3.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("sagemaker", partition))
    return frozenset(regions)


def checked_region(session: boto3.Session) -> str:
    region = session.region_name
    if not region:
        raise LaunchError(
            "no AWS region: pass --region, set AWS_REGION, or run 'aws configure set region REGION'"
        )
    known = known_regions()
    if region not in known:
        near = difflib.get_close_matches(region, sorted(known), n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise LaunchError(f"region {region!r} is not a region where SageMaker runs{hint}")
    return region


@dataclass
class Aws:
    """A checked session (a known region, credentials, the account id), or a dry run."""

    session: boto3.Session
    region: str
    account: str
    dry_run: bool = False
    sent: list[str] = field(default_factory=list)  # what was created, for "left behind" notes

    @classmethod
    def connect(cls, region: str | None, dry_run: bool = False) -> Aws:
        try:
            session = boto3.Session(region_name=region or None)
        except botocore.exceptions.ProfileNotFound as exc:
            raise LaunchError(str(exc)) from None
        region = checked_region(session)
        if dry_run:
            return cls(session, region, ACCOUNT_PLACEHOLDER, dry_run=True)
        try:
            identity = session.client("sts", config=Config(retries={"max_attempts": 2}))
            account = identity.get_caller_identity()["Account"]
        except botocore.exceptions.NoCredentialsError:
            raise LaunchError(
                "no AWS credentials: run 'aws configure' or set AWS_PROFILE"
            ) from None
        except botocore.exceptions.ClientError as exc:
            raise LaunchError(f"AWS refused the credentials: {exc}") from None
        except botocore.exceptions.EndpointConnectionError as exc:
            raise LaunchError(f"cannot reach AWS: {exc}") from None
        return cls(session, region, account)

    def client(self, service: str):  # noqa: ANN201 - boto3 clients have no static type
        return self.session.client(service, region_name=self.region)

    def call(self, service: str, method: str, **params: Any) -> dict[str, Any]:
        """Send one request, or with ``--dry-run`` print it as one JSON line and send nothing."""
        if self.dry_run:
            line = {
                "service": service,
                "operation": operation_name(service, method),
                "params": params,
            }
            print(json.dumps(line), flush=True)
            return {}
        return getattr(self.client(service), method)(**params)

    def create(self, what: str, service: str, method: str, **params: Any) -> dict[str, Any]:
        """A request that creates ``what``; remembered so a later failure can name it."""
        answer = self.call(service, method, **params)
        self.sent.append(what)
        return answer

    def left_behind(self) -> str:
        return ", ".join(self.sent) if self.sent else "nothing"

    def delete(self, kind: str, name: str, service: str, method: str, **params: Any) -> bool:
        """Delete one resource: True when deleted, False when it was not there.

        Only a real not-found counts as gone; any other error is raised as a LaunchError.
        """
        if self.dry_run:
            self.call(service, method, **params)
            return True
        try:
            self.call(service, method, **params)
        except botocore.exceptions.ClientError as exc:
            if is_not_found(service, exc):
                print(f"{kind} {name}: not found", flush=True)
                return False
            raise LaunchError(f"cannot delete {kind} {name}: {error_message(exc)}") from None
        print(f"deleted {kind} {name}", flush=True)
        return True

    @property
    def default_bucket(self) -> str:
        return f"sagemaker-{self.region}-{self.account}"

    def image_uri(self, image: str) -> str:
        """A full ECR URI; ``NAME[:TAG]`` means this account's repository in this region."""
        first = image.split("/", 1)[0]
        if "/" not in image or ("." not in first and ":" not in first):
            name, _, tag = image.partition(":")
            image = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{name}:{tag or 'latest'}"
        return image

    def check_image(self, image: str) -> str:
        """Refuse an image SageMaker could not pull: not in ECR, other region, or absent."""
        uri = self.image_uri(image)
        found = ECR_URI.match(uri)
        if not found:
            raise LaunchError(
                f"image {uri!r} is not an ECR image URI "
                "(ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME:TAG); SageMaker pulls from ECR"
            )
        if found["region"] != self.region:
            raise LaunchError(
                f"image {uri} is in region {found['region']} but the job runs in {self.region}; "
                f"push it there (AWS_REGION={self.region} ./build_and_push.sh NAME)"
            )
        if self.dry_run:
            return uri
        image_id = (
            {"imageDigest": found["digest"]}
            if found["digest"]
            else {"imageTag": found["tag"] or "latest"}
        )
        try:
            described = self.client("ecr").describe_images(
                registryId=found["account"], repositoryName=found["repo"], imageIds=[image_id]
            )
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in ("RepositoryNotFoundException", "ImageNotFoundException"):
                raise LaunchError(
                    f"image {uri} not found in ECR ({code}); "
                    f"push it first: ./build_and_push.sh {found['repo']} {found['tag'] or ''}".rstrip()
                ) from None
            warn(f"could not check image {uri} ({code}); going on")
            return uri
        details = described.get("imageDetails") or [{}]
        if details[0].get("imageManifestMediaType") == OCI_INDEX:
            warn(
                f"image {uri} is an OCI image index (a multi-platform manifest list); SageMaker "
                "refuses those: push a single linux/amd64 image "
                "(docker buildx build --platform linux/amd64 --provenance=false)"
            )
        return uri

    def check_role(self, role: str | None) -> str:
        """The role's ARN; a bare name is looked up in IAM, an unknown one refused."""
        if not role:
            raise LaunchError(
                "no execution role: pass --role ARN_OR_NAME or set SAGEMAKER_ROLE "
                "(docs/launcher.md lists the permissions it needs)"
            )
        name = role.rsplit("/", 1)[-1] if role.startswith("arn:") else role
        if role.startswith("arn:") and ":role/" not in role:
            raise LaunchError(
                f"--role {role!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            )
        if self.dry_run:
            return role if role.startswith("arn:") else f"arn:aws:iam::{self.account}:role/{name}"
        try:
            return self.client("iam").get_role(RoleName=name)["Role"]["Arn"]
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "NoSuchEntity":
                raise LaunchError(
                    f"role {name!r} does not exist in account {self.account}"
                ) from None
            if not role.startswith("arn:"):
                raise LaunchError(f"cannot look up role {name!r} ({code}); pass its ARN") from None
            warn(f"could not check role {role} ({code}); going on")
            return role

    def ensure_bucket(self, bucket: str) -> None:
        if self.dry_run:
            return  # a lookup: the bucket is assumed to exist
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise LaunchError(f"cannot use bucket {bucket}: {error_message(exc)}") from None
        config = (
            {}
            if self.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        )
        self.create(f"bucket s3://{bucket}", "s3", "create_bucket", Bucket=bucket, **config)
        print(f"created bucket s3://{bucket}", file=sys.stderr)

    def upload(self, source: Path, bucket: str, prefix: str, kms_key: str | None = None) -> str:
        """Upload a file or every file under a folder; the S3 prefix URI they share."""
        files = upload_files(source)
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
        s3 = None if self.dry_run else self.client("s3")
        for path in files:
            relative = path.name if source.is_file() else path.relative_to(source).as_posix()
            key = f"{prefix}/{relative}"
            if s3 is None:
                self.call("s3", "put_object", Bucket=bucket, Key=key, **extra)
                continue
            try:
                s3.upload_file(str(path), bucket, key, ExtraArgs=extra or None)
            except (boto3.exceptions.S3UploadFailedError, botocore.exceptions.ClientError) as exc:
                raise LaunchError(
                    f"upload of {path} to s3://{bucket}/{key} failed: {one_line(exc)}"
                ) from None
        if s3 is not None:
            self.sent.append(f"uploads under s3://{bucket}/{prefix}/")
            print(
                f"uploaded {len(files)} file(s) from {source} to s3://{bucket}/{prefix}/",
                file=sys.stderr,
            )
        return f"s3://{bucket}/{prefix}/"

    def count_objects(self, uri: str) -> int | None:
        """Objects under an S3 prefix; None with --dry-run (a lookup)."""
        if self.dry_run:
            return None
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        pages = (
            self.client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=prefix)
        )
        return sum(page.get("KeyCount", 0) for page in pages)


def is_not_found(service: str, exc: botocore.exceptions.ClientError) -> bool:
    """A real not-found: its code says so, or SageMaker's ValidationException 'Could not find'."""
    code = error_code(exc)
    if code in NOT_FOUND.get(service, ()):
        return True
    message = error_message(exc).lower()
    return code == "ValidationException" and (
        "could not find" in message or "does not exist" in message or "not found" in message
    )


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def upload_files(source: Path) -> list[Path]:
    """The files an upload of ``source`` sends (the file, or every file under the folder)."""
    if not source.exists():
        raise LaunchError(f"input {source} does not exist")
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    if not files:
        raise LaunchError(f"input folder {source} holds no files")
    return files
