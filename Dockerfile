# spendscope serve: scheduled ingest, analysis and exports, with the read-only HTTP API on port 8484.
#
#   docker build -t spendscope .
#   docker run -d --name spendscope -p 8484:8484 --stop-timeout 90 \
#     -v spendscope-data:/var/lib/spendscope -v "$PWD/spendscope.toml:/etc/spendscope/spendscope.toml:ro" \
#     -e SPENDSCOPE_API_TOKEN=... spendscope
#
# Not built by the test suite (no container registry is reachable where it runs): see deploy/SERVE.md.
# Dependencies come from requirements.lock, hash-checked, as `make setup` installs them. That lock also
# pins the dev tools (pytest, moto, mypy …), so they are in the image too until a runtime-only lock exists.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN pip install uv==0.13.9 && python -m venv /opt/spendscope
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
RUN uv pip sync --python /opt/spendscope/bin/python requirements.lock
COPY spendscope ./spendscope
RUN uv pip install --python /opt/spendscope/bin/python --no-deps .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/spendscope --create-home spendscope
COPY --from=build /opt/spendscope /opt/spendscope
# In a container the API must listen beyond loopback: set SPENDSCOPE_API_TOKEN (the service warns without).
ENV PATH=/opt/spendscope/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SPENDSCOPE_WAREHOUSE=/var/lib/spendscope/warehouse.duckdb \
    SPENDSCOPE_SERVICE__LISTEN=0.0.0.0:8484 \
    SPENDSCOPE_SERVICE__REPORT_DIR=/var/lib/spendscope/reports
USER spendscope
WORKDIR /var/lib/spendscope
VOLUME ["/var/lib/spendscope"]
EXPOSE 8484
# SIGTERM: the running job gets [service] shutdown_timeout_s (60 s) to finish; give docker stop more.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8484/healthz', timeout=4)"]
ENTRYPOINT ["spendscope"]
CMD ["--config", "/etc/spendscope/spendscope.toml", "serve"]
