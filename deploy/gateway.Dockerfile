# The gateway: slim, no TensorFlow, non-root. Build from the repository root:
#   docker build -f deploy/gateway.Dockerfile -t tfs-gateway .
# Install steps live in deploy/install-gateway.sh, which a test also runs.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway/ gateway/
COPY deploy/install-gateway.sh deploy/
RUN PYTHON=/opt/venv/bin/python sh deploy/install-gateway.sh /src

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
COPY deploy/healthcheck.py /opt/tfs-gateway/healthcheck.py
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin gateway
USER 10001:10001
EXPOSE 8501
# No curl in slim images: the check is a few lines of the image's own Python.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "/opt/tfs-gateway/healthcheck.py"]
ENTRYPOINT ["tfs-gateway", "serve"]
