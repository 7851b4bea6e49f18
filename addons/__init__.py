"""mitmproxy addons that sit in front of each Plex server."""
