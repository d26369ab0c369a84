#!/usr/bin/env bash
# The two-region failover drill (issue 5), with real processes on loopback:
#   PostgreSQL primary (beijing) + synchronous standby (hangzhou)   tests/chaos/pg-pair.sh
#   2 silos per region, 2 gateway processes, a domain homed in each region
#   steady SMTP load recording every 250; an IMAP client of the Beijing domain
# then SIGKILL of both Beijing silos and the Beijing PostgreSQL, promotion of the standby,
# Beijing back as the new standby, grains going home. The last line is
#   acknowledged=N lost=L duplicated=D smtp_recovery_s=S imap_recovery_s=I failback_s=F
# and the exit status is 0 only when L = 0, D = 0 and the grains went home.
#
#   tests/chaos/two-region-failover.sh            the long run (figures for docs/benchmarks.md)
#   tests/chaos/two-region-failover.sh --short    the CI run
# Options: --before S --outage S --after S --senders N --accounts N --dir DIR --keep
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [ "${GRAINMAIL_DRILL_NO_BUILD:-}" != 1 ]; then
  dotnet build silos/GrainMail.Silo -c Release -nologo -v quiet -clp:ErrorsOnly
  dotnet build tests/GrainMail.Chaos -c Release -nologo -v quiet -clp:ErrorsOnly
fi
exec dotnet tests/GrainMail.Chaos/bin/Release/net10.0/GrainMail.Chaos.dll "$@"
