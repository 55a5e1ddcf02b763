# The stylecat application image: API, workers, beat, flower and the CLI.
# torch (to train and export models; the processes that predict run ONNX Runtime) comes from
# PyTorch's CPU index: the image runs on CPU, and PyPI's default build brings about 3 GB of CUDA
# libraries it would never use.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STYLECAT_STACK_DIR=/var/lib/stylecat
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY images images
COPY stylecat stylecat
COPY db db
COPY migrations migrations
COPY producer producer
COPY worker worker
COPY search search
COPY model model
COPY inference inference
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch \
    && pip install --no-cache-dir '.[pipeline,training]' \
    && useradd --create-home stylecat \
    && mkdir -p /var/lib/stylecat && chown stylecat:stylecat /var/lib/stylecat
# the one folder the processes write (beat's schedule); compose mounts a volume here
USER stylecat
CMD ["stylecat", "--help"]
