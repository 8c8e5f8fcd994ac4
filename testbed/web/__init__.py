"""The thin HTTP layer every API shares: parse, call, render (see :mod:`testbed.web.app`)."""
