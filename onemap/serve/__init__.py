"""Serve time: the WSGI app, pygeoapi plugins and onemap's pygeoapi extensions."""
