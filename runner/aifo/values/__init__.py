"""Parsers for the spec's small value languages, one module each (compile uses them).

units        durations (`"500ms"`, `"2m"`) and sizes (`"512m"`)
ports        `"127.0.0.1:8080:80/tcp"` or a mapping → Port
commandline  a command line (string or list) → argv
healthcheck  a healthcheck mapping → Healthcheck (Docker's CMD / CMD-SHELL test)
scalars      values as Docker stores them (strings), and order-free (key, value) pairs
"""
