# XGBoost 3 for Amazon SageMaker: `docker run IMAGE train` and `docker run IMAGE serve`.
# Build with local_test/build_image.sh: it downloads the locked wheels on the host into
# .cache/wheels/VARIANT (the build itself needs no network) and, where python:3.13-slim
# cannot be pulled, builds a local Debian trixie base image first.
#
#   BASE_IMAGE  any image with Python 3.13 as `python3` (the wheels are cp313)
#   VARIANT     cpu (xgboost-cpu, small) or gpu (xgboost with its CUDA runtime, no NCCL)
ARG BASE_IMAGE=python:3.13-slim

# Build stage: the wheels come in here and never reach the final image's layers.
FROM ${BASE_IMAGE} AS build
ARG VARIANT=cpu
COPY requirements/image-${VARIANT}.txt /tmp/requirements.txt
COPY .cache/wheels/${VARIANT} /wheels
# pip runs from its own wheel, so the base needs neither pip nor ensurepip. The lock is
# complete, hence --no-deps (it is what keeps NCCL out of the GPU image). The libraries'
# own test suites, C/Cython sources and Arrow Flight (an RPC framework; about 165 MB) are not
# needed at run time.
RUN python3 -m venv --without-pip /opt/venv \
    && set -- /wheels/pip-*.whl \
    && /opt/venv/bin/python "$1/pip" install --no-index --no-deps \
        --no-cache-dir --disable-pip-version-check --find-links /wheels -r /tmp/requirements.txt \
    && cd /opt/venv/lib/python3.*/site-packages \
    && find . -mindepth 2 -depth -type d -name tests -exec rm -rf {} + \
    && find . \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' -o -name '*.hpp' \
        -o -name '*.cpp' -o -name '*.c' \) -delete \
    && rm -rf pyarrow/include pyarrow/src pyarrow/*flight* \
    && /opt/venv/bin/python -c "import xgboost, flask, gunicorn, sklearn, pandas, pyarrow.parquet, pyarrow.dataset"
COPY container/xgb_container /opt/program/xgb_container
RUN /opt/venv/bin/python -m compileall -q /opt/program

FROM ${BASE_IMAGE}
ARG VARIANT=cpu
# nginx buffers requests in front of gunicorn (serve supervises both). The local base
# (local_test/base_image.sh) has Debian's package already; another base gets it here.
RUN command -v nginx >/dev/null || { apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*; }
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/program /opt/program
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/program \
    PYTHONUNBUFFERED=1 \
    XGB_CONTAINER_VARIANT=${VARIANT}
WORKDIR /opt/program
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
    com.amazonaws.sagemaker.capabilities.multi-models=true \
    org.opencontainers.image.title="xgb-container" \
    org.opencontainers.image.description="XGBoost 3 train and serve programs for Amazon SageMaker"
# SageMaker runs `IMAGE train` or `IMAGE serve`. With no argument (SDK v3 local mode) the
# contract found decides: training config under /opt/ml/input/config means train, else serve.
# CMD [] clears a base image's own CMD (python:3.13-slim has one).
ENTRYPOINT ["/opt/venv/bin/python", "-m", "xgb_container"]
CMD []
