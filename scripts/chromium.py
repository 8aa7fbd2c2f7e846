"""The flags every headless Debian Chromium of the project starts with (site tests, the PDF,
the browser benchmark): no sandbox (CI runs as root), no GPU, and none of the background
connections that this machine's closed network refuses."""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
