# Stands in for gcc:*: Debian's gcc, g++ and make.
FROM aifo-stand-in/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ make libc6-dev \
 && rm -rf /var/lib/apt/lists/*
