"""The analyst console: server-rendered pages and a JSON API over the index, every access audited.

Started by ``heroes serve``; see :func:`heroes.console.app.make_app`.
"""
