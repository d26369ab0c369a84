#!/usr/bin/env bash
# The one publish command of the GrainMail host, used by the Dockerfile and checked by
# tests/GrainMail.Tests/ContainerImageTests.cs (which adds --no-build to reuse its build).
#   eng/publish.sh OUTPUT_DIR [extra dotnet publish arguments]
# Framework-dependent (the image is the ASP.NET runtime), no native app host: the entry point is
# `dotnet GrainMail.Silo.dll`.
set -euo pipefail
out=${1:?usage: eng/publish.sh OUTPUT_DIR [dotnet publish arguments]}
shift
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet publish silos/GrainMail.Silo/GrainMail.Silo.csproj -c Release -o "$out" --no-self-contained -p:UseAppHost=false -nologo -v quiet "$@"
