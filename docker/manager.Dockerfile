# Plex Cluster manager. Build from the repository root:
#   docker build -f docker/manager.Dockerfile -t plex-cluster-manager .
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY manager ./manager
COPY addons ./addons
# The postgres extra is small and lets PLEX_CLUSTER_DSN point at PostgreSQL.
RUN pip install ".[postgres]" \
    && useradd --system --uid 1000 --home-dir /data plexcluster \
    && mkdir -p /data /config \
    && chown plexcluster /data

# Same places as the original image: config in /config, state in /data.
ENV PLEX_CLUSTER_CONFIG=/config/plex-cluster-manager.yml \
    PLEX_CLUSTER_DSN=sqlite:////data/plex-cluster.db \
    PLEX_CLUSTER_LISTEN=0.0.0.0:3400

USER plexcluster
VOLUME ["/data"]
EXPOSE 3400
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3400/health', timeout=4).status == 200 else 1)"

ENTRYPOINT ["plex-cluster-manager"]
CMD ["serve"]
