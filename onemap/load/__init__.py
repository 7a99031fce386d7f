"""Loading files into layers: open, validate, COPY to staging, check, swap."""
