#!/usr/bin/env bash
# Build the image for linux/amd64, push it to Amazon ECR and print its URI on stdout.
#
# usage: ./build_and_push.sh IMAGE_NAME [TAG]
#   IMAGE_NAME  the ECR repository (created with scan on push when missing)
#   TAG         image tag; default: the short git commit. `latest` is pushed too.
#
# Environment:
#   AWS_REGION, AWS_DEFAULT_REGION  the region; else the AWS CLI's configured region.
#                                   One region is used for every call.
#   AWS_PROFILE, AWS_ACCESS_KEY_ID, ...  credentials, as the AWS CLI reads them.
#   AWS_ENDPOINT_URL   AWS API endpoint (the AWS CLI honours it; tests point it at an emulator).
#   ECR_REGISTRY       registry host to push to instead of ACCOUNT.dkr.ecr.REGION.amazonaws.com.
#   LOCAL_IMAGE        push this already built local image instead of building one.
# Everything but the URI goes to stderr, so `uri=$(./build_and_push.sh xgb)` works.
set -euo pipefail
cd "$(dirname "$0")"

die() {
    echo "build_and_push: $*" >&2
    exit 1
}

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 IMAGE_NAME [TAG]"
name=$1
tag=${2:-$(git rev-parse --short HEAD 2>/dev/null || true)}
[ -n "$tag" ] || die "no TAG given and no git commit to take it from"
[[ $name =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]] ||
    die "IMAGE_NAME '$name' is not a valid ECR repository name (lower case letters, digits, . _ - /)"
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
    die "TAG '$tag' is not a valid image tag (letters, digits, _ . -; at most 128)"
command -v aws >/dev/null || die "the AWS CLI (aws) is not installed"
command -v docker >/dev/null || die "docker is not installed"

region=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}
[ -n "$region" ] ||
    die "no AWS region: set AWS_REGION or run 'aws configure set region REGION'"
export AWS_REGION=$region AWS_DEFAULT_REGION=$region

account=$(aws sts get-caller-identity --query Account --output text) ||
    die "cannot read the AWS account (are credentials configured?)"
registry=${ECR_REGISTRY:-$account.dkr.ecr.$region.amazonaws.com}
echo "account $account, region $region, registry $registry" >&2

if ! out=$(aws ecr describe-repositories --repository-names "$name" 2>&1 >/dev/null); then
    [[ $out == *RepositoryNotFoundException* ]] || die "cannot look up ECR repository $name: $out"
    aws ecr create-repository --repository-name "$name" \
        --image-scanning-configuration scanOnPush=true >/dev/null
    echo "created ECR repository $name (scan on push)" >&2
fi

aws ecr get-login-password | docker login --username AWS --password-stdin "$registry" >&2 ||
    die "docker login to $registry failed"

if [ -n "${LOCAL_IMAGE:-}" ]; then
    source_image=$LOCAL_IMAGE
    docker image inspect "$source_image" >/dev/null 2>&1 ||
        die "LOCAL_IMAGE $source_image is not a local image (docker images lists what exists)"
else
    source_image=$name:$tag
    DOCKER_DEFAULT_PLATFORM=linux/amd64 local_test/build_image.sh "$source_image" >&2
fi
platform=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$source_image")
[ "$platform" = linux/amd64 ] ||
    die "image $source_image is $platform; SageMaker runs linux/amd64 images"

uri=$registry/$name:$tag
for target in "$uri" "$registry/$name:latest"; do
    docker tag "$source_image" "$target"
    docker push "$target" >&2 || die "push of $target failed"
done
echo "$uri"
