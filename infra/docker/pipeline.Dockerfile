# The image every compiled SageMaker step runs (mlops-sagemaker compile --image ...).
# Build from the repository root:
#   docker build -f infra/docker/pipeline.Dockerfile -t mlops-pipeline .
# The project is installed as a wheel with the exact versions of constraints.txt; the
# Kedro project files (pyproject.toml, conf/) sit in the working directory, which is
# where the steps' entrypoint runs `kedro run --env aws --pipeline <use case>.<stage>`.
# There is no src/ here: the entrypoint configures Kedro from the installed package.
#
# Who runs a step: SageMaker mounts a processing job's output folders owned by root,
# so the container starts as root and the entrypoint, before anything else, gives the
# folders it writes into to the unprivileged user named in MLOPS_STEP_USER and drops
# to it for good (src/mlops_platform/aws/sagemaker/step.py). tests/aws/
# test_image_layout.py rebuilds this image's layout from this file and runs a step
# that way.

# checkov:skip=CKV_DOCKER_7:FROM uses ARG PYTHON_IMAGE, an exact patch release (checkov does not resolve ARG defaults)
# checkov:skip=CKV_DOCKER_2:A batch step image: SageMaker runs it to completion, nothing probes its health
# checkov:skip=CKV_DOCKER_8:Starts as root only to own SageMaker's root-owned output mounts, then the entrypoint drops to uid 10001 (MLOPS_STEP_USER) before any project code runs
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# mlops_platform imports mlops_serving.text (the text networks' tokenizer, shared with
# the service): the serving package is installed beside it, without its extras.
COPY serving/pyproject.toml serving/README.md ./serving/
COPY serving/src ./serving/src
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --no-deps --wheel-dir /build/dist . ./serving \
    && /opt/venv/bin/pip install -c constraints.txt /build/dist/mlops_platform-*.whl \
       /build/dist/mlops_serving-*.whl \
    && /opt/venv/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 kedro \
    && useradd --system --uid 10001 --gid kedro --create-home --home-dir /home/kedro \
       --shell /usr/sbin/nologin kedro
COPY --from=build /opt/venv /opt/venv
WORKDIR /home/kedro
COPY --chown=10001:10001 pyproject.toml ./
COPY --chown=10001:10001 conf ./conf
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KEDRO_LOGGING_CONFIG=/home/kedro/conf/logging.yml \
    DO_NOT_TRACK=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    HOME=/home/kedro \
    MLOPS_STEP_USER=10001:10001
# hadolint ignore=DL3002
USER 0:0
ENTRYPOINT ["python", "-m", "mlops_platform.aws.sagemaker.step"]
CMD ["--help"]
