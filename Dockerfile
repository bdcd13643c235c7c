# thonminh: the criteria service (default command) and, in the compose demo profile, the gateway and the
# village simulator. Built by `docker compose build` from this repository.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/thonminh --create-home --shell /usr/sbin/nologin thonminh

WORKDIR /opt/thonminh
COPY pyproject.toml README.md ./
COPY thonminh ./thonminh
COPY edge ./edge
COPY server ./server
COPY dashboards ./dashboards
COPY lab ./lab
RUN pip install ".[server,dashboards,lab]" && rm -rf build *.egg-info

USER thonminh
WORKDIR /var/lib/thonminh
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health', timeout=4)"]
ENTRYPOINT ["thonminh"]
CMD ["server", "--config", "/etc/thonminh/server.toml"]
