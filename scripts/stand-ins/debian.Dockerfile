# The Debian base every stand-in builds on: the minbase root filesystem scripts/seed-images made
# with mmdebstrap from this host's apt sources, plus this host's extra CA certificates, so apt, npm
# and pip inside builds on top of it trust whatever TLS this network presents.
ARG ROOTFS
FROM ${ROOTFS}
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
# One bundle for every client: OpenSSL and Python (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, PIP_CERT),
# and Node, whose official binaries ignore the system store (NODE_EXTRA_CA_CERTS).
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    LANG=C.UTF-8
CMD ["bash"]
