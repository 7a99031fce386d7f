-- Extensions the platform needs. Safe to rerun.
CREATE EXTENSION IF NOT EXISTS postgis;
