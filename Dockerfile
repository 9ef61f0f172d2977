# Training (and inference) on a GPU box: a CUDA runtime image, the pinned requirements, the project.
#   docker compose build && docker compose run --rm train      (see the README, "Train on a GPU with Docker")
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Ubuntu 24.04's Python is 3.12 (numpy 2.3 needs 3.11 or newer); a venv keeps pip off the system Python.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

WORKDIR /workspace/osuT5
# Dependencies first, from requirements.txt only, so code changes do not reinstall them. On Linux the
# PyPI wheel of torch==2.13.0 ships its CUDA libraries; the image only needs the driver from the host.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The project itself, with no further dependencies.
COPY . .
RUN pip install --no-deps -e .

# Datasets come in read-only at /datasets; runs (checkpoints, logs, models) go to /runs.
VOLUME ["/datasets", "/runs"]
CMD ["python", "osuT5/train.py", "--help"]
