# Stands in for gcc:*: Debian's gcc, g++ and make.
ARG BASE=aifo-stand-in/debian:bookworm
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ make libc6-dev \
 && rm -rf /var/lib/apt/lists/*
