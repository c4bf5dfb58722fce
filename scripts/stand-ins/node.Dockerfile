# Stands in for node:22*: the official Node.js binary as published on the npm registry
# (node-linux-<arch>), with npm 10 and corepack beside it. Fetched with Debian's npm in a
# throwaway stage; the result holds none of it.
ARG BASE=aifo-stand-in/debian:bookworm
FROM ${BASE} AS fetch
ARG NODE_VERSION=22.11.0
ARG NPM_VERSION=10
ARG COREPACK_VERSION=0.36.0
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /fetch
RUN arch="$(dpkg --print-architecture)"; case "$arch" in amd64) arch=x64 ;; esac \
 && npm pack --silent "node-linux-${arch}@${NODE_VERSION}" "npm@${NPM_VERSION}" \
      "corepack@${COREPACK_VERSION}" >/dev/null \
 && mkdir -p /opt/node/bin /opt/node/lib/node_modules/npm /opt/node/lib/node_modules/corepack \
 && tar -xzf node-linux-*.tgz && cp package/bin/node /opt/node/bin/node && rm -rf package \
 && tar -xzf npm-*.tgz -C /opt/node/lib/node_modules/npm --strip-components=1 \
 && tar -xzf corepack-*.tgz -C /opt/node/lib/node_modules/corepack --strip-components=1 \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /opt/node/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /opt/node/bin/npx \
 && ln -s ../lib/node_modules/corepack/dist/corepack.js /opt/node/bin/corepack

FROM ${BASE}
COPY --from=fetch /opt/node/ /usr/local/
