"""Jellyfin and Emby servers: one implementation with two dialects (Emby is where Jellyfin
forked from)."""
