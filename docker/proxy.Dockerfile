# Plex Cluster proxy: mitmdump in reverse mode with the plex_cluster addon.
# Build from the repository root:  docker build -f docker/proxy.Dockerfile -t plex-cluster-proxy .
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PLEX_CLUSTER_DATA_DIR=/data \
    HTTPS_PORT=32401 \
    HOME=/data

# A fixed non-root user; /data (the volume) holds the spool, mitmproxy's confdir and the
# listener's combined PEM, all private to it.
RUN groupadd --system --gid 10001 plexcluster \
 && useradd --system --uid 10001 --gid plexcluster --home-dir /data --shell /usr/sbin/nologin plexcluster \
 && mkdir -p /data && chown plexcluster:plexcluster /data && chmod 0700 /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY manager ./manager
COPY addons ./addons
RUN pip install . && rm -rf /root/.cache

USER plexcluster
VOLUME ["/data"]
EXPOSE 32401

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import os, socket; socket.create_connection(('127.0.0.1', int(os.environ.get('HTTPS_PORT', '32401'))), 3).close()"

# Environment as in the original: PLEX_IP, PLEX_PORT, HTTPS_HOST, HTTPS_PORT,
# SSL_CERTIFICATE, SSL_CERTIFICATE_KEY, CLUSTER_MANAGER, CLUSTER_MANAGER_TOKEN.
# Extra arguments after the image name go to mitmdump (e.g. --set cluster_log_level=debug).
ENTRYPOINT ["python", "-m", "addons.launch"]
