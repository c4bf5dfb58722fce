# Stands in for rust:*-slim: Debian's rustc and cargo. The crates index is not reachable offline;
# cargo's crates.io source is replaced by the directory registry Debian's librust-*-dev packages
# fill (/usr/share/cargo/registry), so `apt-get install librust-serde-dev` makes serde a usable dependency.
ARG BASE=aifo-stand-in/debian:bookworm
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends rustc cargo libc6-dev \
 && rm -rf /var/lib/apt/lists/*
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /usr/local/cargo/bin /usr/share/cargo/registry \
 && printf '%s\n' '[source.crates-io]' 'replace-with = "debian"' '' '[source.debian]' \
      'directory = "/usr/share/cargo/registry"' >/usr/local/cargo/config.toml \
 && chmod 1777 /usr/local/cargo
