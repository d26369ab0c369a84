# GrainMail host image: what k8s/ runs as `grainmail:latest` (silo and gateway pods alike; the
# role comes from GRAINMAIL_ROLE). Build: docker build -t grainmail:latest .
#
# Stage 1: the webmail (TypeScript, Vite) built by its own script on plain Debian 12, with
# Debian's nodejs 18 and npm (build.sh installs them; Vite 6 is pinned because 7+ needs Node 20.19).
FROM debian:bookworm-slim AS webmail
WORKDIR /src/webmail
COPY webmail/ ./
RUN bash build.sh && test -f dist/index.html

# Stage 2: the SDK publishes the host with eng/publish.sh (the same command the tests run).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN bash eng/publish.sh /out

# Stage 3: the ASP.NET Core runtime. Its ICU (libicu) is what domain-name processing calls
# (UTS 46, UTS 39), although the app itself runs with invariant globalization.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /out/ ./
# "webmail" beside the host's binaries is where WebmailFiles.Locate looks first (else /mail/ is 503).
COPY --from=webmail /src/webmail/dist/ ./webmail/
# DMARC's organisational domain reads Debian's public suffix list (/usr/share/publicsuffix).
# clamd is not in this image: it runs beside it (Debian's clamav-daemon, its own container or
# host, with freshclam), and GRAINMAIL_CLAMD points at it (host:port or unix:/path).
RUN apt-get update && apt-get install -y --no-install-recommends publicsuffix && rm -rf /var/lib/apt/lists/*
# Data directory (TLS self-signed pair and spool when not configured); an emptyDir in k8s.
RUN mkdir -p /var/lib/grainmail && chown 1654:1654 /var/lib/grainmail
ENV GRAINMAIL_DATA=/var/lib/grainmail \
    GRAINMAIL_HTTP=http://0.0.0.0:8080 \
    GRAINMAIL_LISTEN=0.0.0.0 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
# HTTP (admin API, health, metrics, dashboard); Orleans silo and gateway; SMTP, IMAP, POP3.
EXPOSE 8080 11111 30000 25 587 465 143 993 110 995
# The image's non-root "app" user (UID 1654), the runAsUser of the k8s manifests.
USER 1654:1654
ENTRYPOINT ["dotnet", "GrainMail.Silo.dll"]
