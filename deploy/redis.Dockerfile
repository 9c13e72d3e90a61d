# Redis for the compose stack, built FROM the same base image as the services (no registry is needed):
# Debian's redis-server package. Data lives in /data (a volume in docker-compose.yml), append-only file on.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
HEALTHCHECK --interval=2s --timeout=3s --retries=15 CMD ["redis-cli", "-p", "6379", "ping"]
# Listens on the compose network only (the port is not published). AOF fsynced before every reply (appendfsync
# always): an acknowledged Fsync survives a crash (services/runtime/redis_server.py DURABLE_ARGS says why).
CMD ["redis-server", "--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no", "--dir", "/data", \
     "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
