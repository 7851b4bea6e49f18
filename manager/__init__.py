"""Plex Cluster manager: receives playback events from proxies and replays them on peers."""
