#!/usr/bin/env bash
# Installs the pinned Genesys Cloud JavaScript SDK for the fidelity test
# (genesys/sim/sdk_test.go). Needs Node 20 or later and npm.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
