"""The full sync: read every server (`read`), group the same items (`group`), decide per
user (`reconcile`, `plan`), queue and follow the writes (`engine`, `tracker`), report
(`report`), and when `serve` runs it (`schedule`).
"""
