# The bundled ModelServer (tensorflow-cpu) with the demo models, for development
# and CI. Production serves with the official tensorflow/serving image.
# Build from the repository root:
#   docker build -f deploy/modelserver.Dockerfile -t tfs-gateway-modelserver .

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway/ gateway/
COPY deploy/install-modelserver.sh deploy/
RUN PYTHON=/opt/venv/bin/python sh deploy/install-modelserver.sh /src

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2
COPY --from=build /opt/venv /opt/venv
COPY demo/models/ /models/
COPY deploy/compose/models.config /config/models.config
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin modelserver
USER 10001:10001
EXPOSE 8500
ENTRYPOINT ["tfs-gateway", "modelserver"]
CMD ["--port=8500", "--model_config_file=/config/models.config"]
