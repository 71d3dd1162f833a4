#!/usr/bin/env bash
# Runs every test of the solution and ends with one line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Debian packages the tests drive: faketime (replays with the wall clock moved must give the same rows) and
# strace (fsync and write failures injected into the real program, and the audit of its system calls) and
# chromium (the dashboard's browser tests drive /usr/bin/chromium with Playwright: browsers cannot be downloaded here).
missing=""
command -v faketime >/dev/null || missing="$missing faketime"
command -v strace >/dev/null || missing="$missing strace"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    echo "installing$missing from Debian packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# PostgreSQL 15 (the naive engine's tests start their own cluster from /usr/lib/postgresql/15/bin).
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
    echo "installing postgresql from Debian packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
rm -rf TestResults
if ! dotnet build Tollbooth.slnx -c Release -warnaserror -nologo -v q; then
    echo "build failed"
    echo "0 passed, 1 failed"
    exit 1
fi
dotnet test Tollbooth.slnx -c Release --no-build --nologo \
    --logger "trx" --logger "console;verbosity=normal" --results-directory TestResults
status=$?
python3 - <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for path in glob.glob("TestResults/*.trx"):
    counters = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
    skipped += int(counters.get("notExecuted", 0))
if skipped:
    print(f"{skipped} skipped (not counted as passed)")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
PY
summary=$?
if [ $status -ne 0 ] && [ $summary -eq 0 ]; then
    echo "0 passed, 1 failed"
    exit 1
fi
exit $summary
