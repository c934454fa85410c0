#!/usr/bin/env bash
# Install what tests/test_browser.py needs beyond the Python packages: Debian's Chromium (and a font).
# Playwright's own browser download cannot work here (no internet), so the test drives /usr/bin/chromium.
# Usage: bash .ci/browser-setup.sh [PYTHON]   (PYTHON defaults to the python on PATH)
set -euo pipefail
python="${1:-$(command -v python || command -v python3)}"

if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # chromium-driver is not needed by Playwright (it speaks CDP directly); fonts make screenshots legible.
        apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    else
        echo "NOTE: tests/test_browser.py needs Chromium at /usr/bin/chromium (or DEPTHKIT_CHROMIUM=/path);" \
             "install it with your system's package manager (Debian/Ubuntu as root: apt-get install chromium)."
        exit 0
    fi
fi
chromium --version || true

if ! "$python" -c "import playwright" >/dev/null 2>&1; then
    "$python" -m pip install --quiet "playwright>=1.40"
fi
"$python" -c "from importlib.metadata import version; print('playwright', version('playwright'))"
