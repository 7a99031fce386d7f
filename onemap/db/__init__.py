"""Database: the project-run cluster, connections, schema from the layer files."""
