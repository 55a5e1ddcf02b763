# The stylecat application image: API, workers, beat, flower and the CLI.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
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
RUN pip install --no-cache-dir . && useradd --create-home stylecat
USER stylecat
CMD ["stylecat", "--help"]
