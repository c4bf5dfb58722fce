# A Swarm node for the tests and the bench: Docker-in-Docker from Debian's own packages, built
# offline (scripts/swarm-nodes builds it; the apt sources come with the seeded debian image).
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      docker.io iptables ca-certificates procps iproute2 \
 && rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/aifo-swarm-node
VOLUME /var/lib/docker
ENTRYPOINT ["/usr/local/bin/aifo-swarm-node"]
