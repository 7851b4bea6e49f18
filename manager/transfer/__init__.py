"""Export and import of every user's watched state and resume points (docs/export-format.md).

`document` (the versioned JSON format), `export` (read the servers and the ledger, decide
each user's state per item), `snapshot` (a file read as one more server, never written),
`restore` (a file's state put on a server through a full sync limited to it), `command`
(the `export` and `import` commands).
"""
