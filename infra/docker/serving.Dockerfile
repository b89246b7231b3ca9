# The inference service (serving/). Build from the repository root:
#   docker build -f infra/docker/serving.Dockerfile -t mlops-serving .
# Runs as a non-root user; settings are SERVING_* environment variables
# (serving/README.md). The model store is mounted or on S3; no model is baked in.

# checkov:skip=CKV_DOCKER_7:FROM uses ARG PYTHON_IMAGE, an exact patch release (checkov does not resolve ARG defaults)
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY serving/pyproject.toml serving/constraints.txt serving/README.md ./
COPY serving/src ./src
# Exact versions from serving/constraints.txt; the S3 extra for an s3:// model store.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile -c constraints.txt ".[s3]" \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 serving \
    && useradd --system --uid 10001 --gid serving --no-create-home \
       --shell /usr/sbin/nologin serving
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SERVING_HOST=0.0.0.0 \
    SERVING_PORT=8080
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status != 200)"]
ENTRYPOINT ["mlops-serve"]
