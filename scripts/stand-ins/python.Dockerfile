# Stands in for python:3*-slim: Debian's python3 with venv and pip. Like the official image (and
# unlike Debian's default), pip may install into the system interpreter.
ARG BASE=aifo-stand-in/debian:bookworm
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip python-is-python3 \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
