# GPT-2 Provenance: one image for every role (api, worker, dashboard, one-shot commands); the role is the command.
#
#   docker build -t gpt2-provenance .
#   docker compose up            # see compose.yaml and docs/guides/many-hosts.md
#
# This is the CPU image. CUDA variant (GPU workers): start from a CUDA runtime instead and take torch's CUDA
# wheel, everything else unchanged:
#   FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04   (then apt-get install python3.11 python3.11-venv)
#   TORCH_INDEX=https://download.pytorch.org/whl/cu126
# and run the worker with `--gpus all` (compose: deploy.resources.reservations.devices) and
# PROVENANCE_DEVICE=cuda. One worker process per GPU (`provenance worker --concurrency 1`).
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TOKENIZERS_PARALLELISM=false \
    TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="" \
    HF_HUB_OFFLINE=1 \
    OMP_NUM_THREADS=1 \
    PROVENANCE_HOME=/data

RUN useradd --create-home --uid 10001 provenance && mkdir -p /data && chown provenance /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY watermark ./watermark
COPY generator ./generator
COPY detect ./detect
COPY provenance ./provenance
COPY dashboard ./dashboard
COPY migrations ./migrations
# torch from its CPU index first (PyPI's default torch wheel carries CUDA libraries), then the project.
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" "torch==2.13.0" \
    && pip install --no-cache-dir -e .

USER provenance
# The data home starts empty on every host but the one that trains: `provenance worker --from-store` (and
# PROVENANCE_ARTIFACTS_FROM_STORE=1 for the api and dashboard) fetch bundles, index and keys from the database.
VOLUME ["/data"]
ENTRYPOINT ["provenance"]
CMD ["--help"]
