"""The compound hub: ingests every gate's events, and serves staff and officers."""
