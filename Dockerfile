# af's container image: controld, routerd and af on Debian 12, run as an
# unprivileged user. Build from the repository root:
#   docker build -t af:0.1.0 .
# The runtime stage installs exactly the packages whose libraries the
# binaries link (tests/cluster/dockerfile.sh compares the list with ldd
# and dpkg -S), plus curl for the probes of the Kubernetes examples.

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config libraft-dev libuv1-dev liblmdb-dev \
      libprotobuf-c-dev protobuf-c-compiler libnng-dev libyaml-dev \
      libjansson-dev libxxhash-dev libsodium-dev libmicrohttpd-dev \
      libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Release binaries: no test hooks (the Makefile builds them in build-release/).
RUN make -j"$(nproc)" TEST_HOOKS=0 all \
 && install -d /out/bin \
 && install -m 755 build-release/bin/controld build-release/bin/routerd \
      build-release/bin/af /out/bin/

FROM debian:12 AS runtime
# runtime-libraries: the packages of the libraries the binaries link.
# probe-tools: curl, for exec probes of a routerd that listens on loopback.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libc6 libcurl4 libjansson4 liblmdb0 libmicrohttpd12 libnng1 \
      libprotobuf-c1 libraft2 libsodium23 libuv1 libxxhash0 libyaml-0-2 \
      curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 af \
 && useradd --system --uid 10001 --gid af --home-dir /var/lib/af \
      --shell /usr/sbin/nologin af \
 && install -d -o af -g af -m 700 /var/lib/af /var/cache/routerd
COPY --from=build /out/bin/ /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/af
# controld's raft, api, pub and http ports in the examples; routerd's http.
EXPOSE 7101 7102 7103 7104 8080
ENTRYPOINT ["/usr/local/bin/controld"]
CMD ["--help"]
