# Stands in for golang:*: Debian's Go, with gcc for cgo and git for module and VCS stamping, and a
# GOPATH any uid can write. The module proxy is not reachable offline: modules need a vendor/.
ARG BASE=aifo-stand-in/debian:bookworm
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go gcc libc6-dev git \
 && rm -rf /var/lib/apt/lists/*
ENV GOPATH=/go \
    PATH=/go/bin:/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/bin /go/src && chmod -R 1777 /go
