"""Build time: pygeoapi.yml, styles, the QGIS project and the maps site."""
