"""The hub's web UI for property staff and community officers: pages rendered on the hub,
in Chinese and English, with nothing fetched from outside (no CDN, no front-end packages)."""
